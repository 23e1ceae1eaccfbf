"""The owner is warned 30 days before a provider method a store's connection uses is switched off (issue #16 point 7;
dates from core/provider_methods.py, time from the injected clock, so no calendar date turns CI red)."""

import datetime as dt

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import translation
from django.utils.formats import date_format

from ocbridge.core import access, clock
from ocbridge.core.attention import ERROR, needs_attention
from ocbridge.core.models import Connection, Store, StoreMember
from ocbridge.core.provider_methods import METHODS

pytestmark = pytest.mark.django_db
KEY = "core.methods_going_away"
# the soonest listed switch-off: whichever provider it is, a store using that service must hear about it in time
DATED = min((m for m in METHODS if m.switch_off), key=lambda m: m.switch_off)


def _days_before_switch_off(days: int) -> None:
    target = dt.datetime.combine(DATED.switch_off - dt.timedelta(days=days), dt.time(12), dt.timezone.utc)
    clock.reset()
    clock.travel((target - clock.now()).total_seconds())


@pytest.fixture
def two_stores():
    """Store A uses the service whose method goes away; store B uses another service. One owner each."""
    other = next(s for s in ("verimor", "netgsm", "twilio") if s != DATED.service)
    out = {}
    for name, service in (("A Shop", DATED.service), ("B Shop", other)):
        store = Store.objects.create(name=name, version="3.0", db_url=f"mysql+pymysql://oc:pw@{name[0]}.example/oc")
        Connection.objects.create(store=store, service=service, name=f"{name} account")
        user = User.objects.create_user(f"owner-{name[0]}", password="pw-123456")
        StoreMember.objects.create(store=store, user=user, role="owner")
        out[name[0]] = (store, user)
    return out


def _warnings(user) -> list:
    return [a for a in needs_attention(access.scoped(Store, user)) if a.key == KEY]


def test_warned_from_30_days_before_not_at_31_and_only_in_its_own_store(two_stores):
    (store_a, owner_a), (_store_b, owner_b) = two_stores["A"], two_stores["B"]

    _days_before_switch_off(31)
    assert _warnings(owner_a) == []

    _days_before_switch_off(29)
    [item] = _warnings(owner_a)  # the service's methods with one date are one line
    assert DATED.method in item.text and DATED.source in item.text
    assert date_format(DATED.switch_off, "DATE_FORMAT") in item.text and "in 29 days" in item.text
    assert "A Shop" in item.text and item.severity != ERROR
    assert item.count == sum(1 for m in METHODS if m.service == DATED.service and m.switch_off == DATED.switch_off)
    assert _warnings(owner_b) == []  # store B's connections call nothing going away, and it cannot see store A

    # the overview shows it (the page's own attention list) to A's owner, not to B's
    for user, shown in ((owner_a, True), (owner_b, False)):
        c = Client()
        c.force_login(user)
        assert (DATED.method in c.get("/").content.decode()) is shown

    # a switched-off connection calls nothing: no warning
    Connection.objects.filter(store=store_a).update(enabled=False)
    assert _warnings(owner_a) == []


def test_past_the_date_is_an_error_and_the_text_is_translated(two_stores):
    store_a, owner_a = two_stores["A"]
    _days_before_switch_off(-3)
    [item] = _warnings(owner_a)
    assert item.severity == ERROR and "switched off" in item.text
    with translation.override("tr"):
        [tr] = _warnings(owner_a)
    with translation.override("ru"):
        [ru] = _warnings(owner_a)
    assert len({item.text, tr.text, ru.text}) == 3 and all(DATED.method in t.text for t in (tr, ru))
