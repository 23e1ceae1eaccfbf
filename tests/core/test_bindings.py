"""Two-way Binding rules: which side changed, echoes of our own writes, conflicts by the owner's rule."""

from datetime import timedelta

import pytest

from ocbridge.core import bindings, clock
from ocbridge.core.models import Binding, Connection, Store

pytestmark = pytest.mark.django_db


@pytest.fixture
def b():
    conn = Connection.objects.create(store=Store.objects.create(name="s"), service="ozon", name="Ozon")
    return Binding.objects.create(connection=conn, kind="product", local_id="1", external_id="M1")


def synced(b, local="L1", remote="R1"):
    bindings.record(b, local_hash=local, remote_hash=remote, origin=bindings.LOCAL)
    return b


def test_digest_ignores_key_order_and_differs_by_value():
    assert bindings.digest({"a": 1, "b": "x"}) == bindings.digest({"b": "x", "a": 1})
    assert bindings.digest({"a": 1}) != bindings.digest({"a": 2})


def test_first_sync_goes_from_the_shop(b):
    assert bindings.decide(b, "L1", "R0", bindings.SERVICE_WINS) == bindings.Decision(bindings.REMOTE)


def test_nothing_changed_and_our_own_echo_write_nothing(b):
    synced(b)
    assert bindings.decide(b, "L1", "R1", bindings.SHOP_WINS).write_to is None
    # We wrote the shop from a service change and recorded the shop's resulting hash: reading it back is an echo.
    bindings.record(b, local_hash="L2", remote_hash="R2", origin=bindings.REMOTE)
    b.refresh_from_db()
    assert b.last_origin == bindings.REMOTE
    assert bindings.decide(b, "L2", "R2", bindings.SHOP_WINS).write_to is None


def test_one_side_changed_is_written_to_the_other(b):
    synced(b)
    assert bindings.decide(b, "L2", "R1", bindings.SERVICE_WINS) == bindings.Decision(bindings.REMOTE)
    assert bindings.decide(b, "L1", "R2", bindings.SHOP_WINS) == bindings.Decision(bindings.LOCAL)


@pytest.mark.parametrize("rule, later, expected", [
    (bindings.SHOP_WINS, "remote", bindings.REMOTE),
    (bindings.SERVICE_WINS, "local", bindings.LOCAL),
    (bindings.NEWEST_WINS, "remote", bindings.LOCAL),
    (bindings.NEWEST_WINS, "local", bindings.REMOTE),
])
def test_conflict_follows_the_owners_rule(b, rule, later, expected):
    synced(b)
    now = clock.now()
    seen = {"local_seen_at": now, "remote_seen_at": now}
    seen[f"{later}_seen_at"] = now + timedelta(seconds=5)
    decision = bindings.decide(b, "L2", "R2", rule, **seen)
    assert decision == bindings.Decision(expected, conflict=True)


def test_newest_rule_without_times_keeps_the_shop(b):
    synced(b)
    assert bindings.decide(b, "L2", "R2", bindings.NEWEST_WINS).write_to == bindings.REMOTE


def test_one_way_binding_takes_the_service_value_as_baseline(b):
    b.local_hash = "L1"
    b.save()
    assert bindings.decide(b, "L1", "R9", bindings.SHOP_WINS) == bindings.Decision(None, baseline=True)
    assert bindings.decide(b, "L2", "R9", bindings.SHOP_WINS) == bindings.Decision(bindings.REMOTE)


def test_conflict_loser_is_kept_bounded(b):
    synced(b)
    for i in range(bindings.CONFLICTS_KEPT + 5):
        bindings.record(b, local_hash="L", remote_hash="R", origin=bindings.LOCAL, lost={"price": str(i)})
    b.refresh_from_db()
    kept = b.data["conflicts"]
    assert len(kept) == bindings.CONFLICTS_KEPT
    assert kept[-1]["price"] == str(bindings.CONFLICTS_KEPT + 4) and "at" in kept[-1]


def test_unknown_rule_or_origin_is_refused(b):
    with pytest.raises(ValueError):
        bindings.decide(b, "L", "R", "coin")
    with pytest.raises(ValueError):
        bindings.record(b, local_hash="L", remote_hash="R", origin="moon")
