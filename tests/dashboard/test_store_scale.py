"""An agency's hub: the store list and the overview cost the same number of queries at 1–2 stores as at 50 and
at 1,000 (no query per store), for a hub administrator and for a user who sees some of the stores; stores whose
shop or provider reads fail are found by a filter and show their back-off."""

import pytest
from django.db import connection as db
from django.test.utils import CaptureQueriesContext

from ocbridge.core.choices import Role

pytestmark = pytest.mark.django_db


def add_stores(first: int, count: int, member=None) -> list:
    from ocbridge.core.models import Connection, Integration, Store, StoreMember

    out = []
    for i in range(first, first + count):
        store = Store.objects.create(name=f"Shop {i:03d}", version=("2.3", "3.0", "4.0")[i % 3],
                                     db_url=f"mysql+pymysql://oc:pw@db{i}.example.com/shop{i}", enabled=i % 7 != 0)
        conn = Connection.objects.create(store=store, service="sandbox", name="Calls", secret={"token": "t"})
        Integration.objects.create(store=store, kind="cod_confirm", connection=conn)
        if member is not None:
            StoreMember.objects.create(user=member, store=store, role=Role.OWNER)
        out.append(store)
    return out


def add_many(first: int, count: int, member=None) -> list:
    """As add_stores, in a few statements (bulk): the agency-sized hub."""
    from ocbridge.core.models import Connection, Integration, Store, StoreMember

    stores = []
    for i in range(first, first + count):
        store = Store(name=f"Shop {i:04d}", version=("2.3", "3.0", "4.0")[i % 3], enabled=i % 7 != 0,
                      db_url=f"mysql+pymysql://oc:pw@db{i}.example.com/shop{i}")
        store.db_key = store.shop_identity.key
        stores.append(store)
    stores = Store.objects.bulk_create(stores, batch_size=500)
    conns = Connection.objects.bulk_create([Connection(store=s, service="sandbox", name="Calls", secret={"token": "t"})
                                            for s in stores], batch_size=500)
    Integration.objects.bulk_create([Integration(store=s, kind="cod_confirm", connection=c)
                                     for s, c in zip(stores, conns)], batch_size=500)
    if member is not None:
        StoreMember.objects.bulk_create([StoreMember(user=member, store=s, role=Role.OWNER) for s in stores])
    return stores


def queries(client, url: str) -> int:
    with CaptureQueriesContext(db) as ctx:
        resp = client.get(url)
    assert resp.status_code == 200, resp.status_code
    return len(ctx)


@pytest.mark.parametrize("url", ["/stores/", "/stores/?q=shop&enabled=yes&feature=cod_confirm", "/"])
def test_admin_pages_do_not_query_per_store(client_in, url):
    add_stores(0, 2)  # two: with one store the overview shows that store's own numbers
    queries(client_in, url)  # warm: caches (translations, registries) filled once
    one = queries(client_in, url)
    add_stores(2, 48)
    assert queries(client_in, url) == one


@pytest.mark.parametrize("url", ["/stores/", "/"])
def test_member_pages_do_not_query_per_store(url):
    from django.contrib.auth.models import User
    from django.test import Client

    user = User.objects.create_user("agency", password="pw-agency-123")
    client = Client()
    client.force_login(user)
    add_stores(0, 1, member=user)
    queries(client, url)
    one = queries(client, url)
    add_stores(1, 49, member=user)
    add_stores(100, 5)  # not theirs
    assert queries(client, url) == one


def on_slow_lane(stores, poll: str = "opencart.shop") -> None:
    """Put the stores' reads on the slow-lane record, as a dispatcher does (core.polls.Scheduler)."""
    import time

    from ocbridge.core import polls

    for s in stores:
        polls.default_leases().set_slow(f"{poll}|{s.db_key}", {"store": s.pk, "since": time.time() - 120,
                                                           "at": time.time() - 5, "seconds": 7.5, "ok": True})


@pytest.mark.parametrize("url", ["/stores/", "/stores/?q=shop&reading=any&feature=cod_confirm&page=3",
                                 "/stores/?reading=slow&page=2", "/stores/?sort=-name", "/"])
def test_pages_cost_the_same_queries_at_a_thousand_stores(client_in, url):
    from ocbridge.core import clock
    from ocbridge.core.models import PollHealth

    def failing(stores):  # every 10th store's Despatch Cloud read fails
        now = clock.now()
        PollHealth.objects.bulk_create([PollHealth(poll="despatch.orders", key=f"integration-{s.pk}", store=s,
                                                   failing_since=now, failures=2, updated=now) for s in stores[::10]])
        on_slow_lane(stores[::10])  # … and its shop is polled on the slow lane

    failing(add_many(0, 2))
    queries(client_in, url)
    one = queries(client_in, url)
    failing(add_many(2, 998))
    with CaptureQueriesContext(db) as ctx:
        resp = client_in.get(url)
    assert resp.status_code == 200 and len(ctx) == one, [q["sql"][:120] for q in ctx.captured_queries]
    if "reading=any" in url:
        assert resp.context["page"].rows and all(s.reads_failing == 1 for s in resp.context["page"].rows)
    if "reading=slow" in url:
        assert len(resp.context["page"].rows) == 50 and all(s.slow_lane for s in resp.context["page"].rows)


def test_store_list_search_filters_and_counts(client_in):
    from ocbridge.core.models import Integration, Store

    stores = add_stores(0, 30)  # every 7th switched off
    Store.objects.filter(pk=stores[4].pk).update(version="")
    Integration.objects.filter(store=stores[5]).delete()

    def names(query: str) -> list[str]:
        resp = client_in.get(f"/stores/?{query}")
        assert resp.status_code == 200
        return [s.name for s in resp.context["page"].rows]

    assert names("q=shop17") == ["Shop 017"]  # by database name
    assert names("q=DB23.EXAMPLE") == ["Shop 023"]  # by host, any case
    assert names("enabled=no") == ["Shop 000", "Shop 007", "Shop 014", "Shop 021", "Shop 028"]
    assert "Shop 005" not in names("feature=cod_confirm") and len(names("feature=cod_confirm")) == 29
    assert names("version=unknown") == ["Shop 004"]
    assert names("version=2.3&enabled=yes&q=Shop 0") == ["Shop 003", "Shop 006", "Shop 009", "Shop 012", "Shop 015",
                                                          "Shop 018", "Shop 024", "Shop 027"]
    assert names("sort=-name")[0] == "Shop 029"
    resp = client_in.get("/stores/?q=nothing-like-this")
    assert "No stores for these filters." in resp.content.decode()
    assert resp.context["summary"] == {"total": 30, "enabled": 25}


def test_store_list_pages_and_shows_only_the_users_stores():
    from django.contrib.auth.models import User
    from django.test import Client

    user = User.objects.create_user("agency", password="pw-agency-123")
    client = Client()
    client.force_login(user)
    add_stores(0, 60, member=user)
    add_stores(100, 3)
    first = client.get("/stores/")
    assert [s.name for s in first.context["page"].rows][:2] == ["Shop 000", "Shop 001"]
    assert first.context["page"].pages == 2 and first.context["summary"]["total"] == 60
    second = client.get("/stores/?page=2")
    assert [s.name for s in second.context["page"].rows] == [f"Shop {i:03d}" for i in range(50, 60)]
    assert "Shop 100" not in client.get("/stores/?q=Shop 1").content.decode()
    assert "Add a store" not in first.content.decode()  # adding stores is the hub administrator's


def test_stores_whose_shop_cannot_be_read_are_found_and_show_their_back_off(client_in):
    import datetime as dt

    from ocbridge.core import clock
    from ocbridge.core.models import PollHealth
    from ocbridge.opencart.polling import POLL

    stores = add_stores(0, 5)
    now = clock.now()
    PollHealth.objects.create(poll=POLL, key=stores[2].db_key, store=stores[2], failing_since=now, failures=3,
                              retry_at=now + dt.timedelta(minutes=2), last_error="Shop database not reachable",
                              updated=now)
    PollHealth.objects.create(poll=POLL, key=stores[3].db_key, store=stores[3], failing_since=None, updated=now,
                              recovered_at=now)  # working again
    resp = client_in.get("/stores/?reading=failing")
    assert [s.name for s in resp.context["page"].rows] == ["Shop 002"]
    assert "failing" in resp.content.decode()
    page = client_in.get(f"/stores/{stores[2].pk}/").content.decode()
    assert "Failed 3 times in a row; next try at" in page


def test_stores_whose_provider_reads_fail_are_found_and_show_their_back_off(client_in):
    import datetime as dt

    from ocbridge.core import clock, polls
    from ocbridge.core.models import PollHealth
    from ocbridge.integrations.despatch import jobs as despatch

    stores = add_stores(0, 4)
    now = clock.now()
    PollHealth.objects.create(poll=despatch.POLL, key="integration-1", store=stores[1], failing_since=now, failures=2,
                              retry_at=now + dt.timedelta(seconds=30), updated=now,
                              last_error="Despatch Cloud: Unauthenticated.")
    resp = client_in.get("/stores/?reading=any")
    assert [s.name for s in resp.context["page"].rows] == ["Shop 001"]
    assert "1 provider read failing" in resp.content.decode()
    assert [s.name for s in client_in.get("/stores/?reading=failing").context["page"].rows] == []
    page = client_in.get(f"/stores/{stores[1].pk}/").content.decode()
    assert str(polls.registered()[despatch.POLL].label) in page and "Despatch Cloud: Unauthenticated." in page
    assert "Failed 2 times in a row; next try at" in page


def test_stores_polled_on_the_slow_lane_are_found_and_say_since_when(client_in):
    """A store whose shop (or a provider read) is polled on the slow lane — threads of its own, after a failure or a
    slow answer — is found by the Reading filter, badged in the list, and its page says since when and how its last
    poll there went; another user's store is not listed."""
    from django.contrib.auth.models import User
    from django.test import Client

    from ocbridge.integrations.despatch import jobs as despatch

    stores = add_stores(0, 4)
    on_slow_lane([stores[1]])
    on_slow_lane([stores[2]], poll=despatch.POLL)
    resp = client_in.get("/stores/?reading=slow")
    assert [s.name for s in resp.context["page"].rows] == ["Shop 001", "Shop 002"]
    assert resp.content.decode().count('href="/stores/%d/#slow-lane"' % stores[1].pk) == 1
    assert "slow lane" in client_in.get("/stores/").content.decode()
    page = client_in.get(f"/stores/{stores[2].pk}/").content.decode()
    assert 'id="slow-lane"' in page and "Reading changed orders from Despatch Cloud" in page and "took 7.5 s" in page
    assert 'id="slow-lane"' not in client_in.get(f"/stores/{stores[3].pk}/").content.decode()
    user = User.objects.create_user("agency", password="pw-agency-123")
    other = Client()
    other.force_login(user)
    assert list(other.get("/stores/?reading=slow").context["page"].rows) == []
