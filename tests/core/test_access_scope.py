"""core.access.scoped writes a user's few store ids into the query and uses a subquery past INLINE_STORES: both ways
keep exactly the rows of the user's stores at the role asked for, read when the query is built."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def stores():
    from ocbridge.core.models import Connection, Exchange, Store

    out = []
    for i in range(4):
        s = Store.objects.create(name=f"Scope {i}")
        conn = Connection.objects.create(store=s, service="sandbox", secret={"token": "t"})
        Exchange.objects.create(service="sandbox", store=s, connection=conn, url=f"https://x.example/{i}")
        out.append(s)
    Exchange.objects.create(service="sandbox", store=None, url="https://x.example/hub")  # hub-wide: admins only
    return out


def _seen(model, user, role="viewer") -> set[int]:
    from ocbridge.core import access
    from ocbridge.core.models import Store

    return set(access.scoped(model, user, role).values_list("pk" if model is Store else "store_id", flat=True))


@pytest.mark.parametrize("inline", [100, 1, 0])
def test_a_user_sees_the_rows_of_their_stores_at_the_role_asked(stores, inline, monkeypatch):
    """inline=100: the ids in the query; 1 and 0: two memberships are more than that, so the subquery."""
    from django.contrib.auth.models import User

    from ocbridge.core import access
    from ocbridge.core.models import Connection, Exchange, Store, StoreMember

    monkeypatch.setattr(access, "INLINE_STORES", inline)
    user = User.objects.create_user("agency-desk")
    StoreMember.objects.create(user=user, store=stores[0], role="viewer")
    StoreMember.objects.create(user=user, store=stores[2], role="operator")
    other = User.objects.create_user("other-desk")
    StoreMember.objects.create(user=other, store=stores[3], role="owner")
    mine = {stores[0].pk, stores[2].pk}
    for model in (Store, Connection, Exchange):
        assert _seen(model, user) == mine, model
        assert _seen(model, user, "operator") == {stores[2].pk}, model
        assert _seen(model, user, "owner") == set(), model
    StoreMember.objects.filter(user=user, store=stores[2]).delete()
    assert _seen(Exchange, user) == {stores[0].pk}  # a removed membership counts from the next query built
    StoreMember.objects.filter(user=user).delete()
    assert _seen(Exchange, user) == set() and access.scoped(Exchange, user).count() == 0


def test_past_the_inline_limit_the_subquery_keeps_the_same_rows(stores, monkeypatch):
    from django.contrib.auth.models import User

    from ocbridge.core import access
    from ocbridge.core.models import Exchange, StoreMember

    user = User.objects.create_user("big-agency")
    for s in stores[:3]:
        StoreMember.objects.create(user=user, store=s, role="viewer")
    monkeypatch.setattr(access, "INLINE_STORES", 2)
    sql = str(access.scoped(Exchange, user).query)
    assert "core_storemember" in sql  # three stores are past 2: the subquery
    assert _seen(Exchange, user) == {s.pk for s in stores[:3]}
    monkeypatch.setattr(access, "INLINE_STORES", 3)
    sql = str(access.scoped(Exchange, user).query)
    assert "core_storemember" not in sql  # at the limit: the ids
    assert _seen(Exchange, user) == {s.pk for s in stores[:3]}
