"""Push mode: the extension's order-event push (extension/opencart/, 3.0 and 4.0) run in a php-cli harness with our own
stubs of OpenCart's engine (no OpenCart code) really POSTs to the hub (the live test server); the hub logs it, marks
the shop's poll wanted now (core.polls.want: no Job row) and answers, and the worker reads the shop (a MariaDB shop of
the same layout) as soon as it is woken — a real `ocbridge worker` in two tests, the worker's steps in this process
in the others. The
hub trusts only that something happened — a push naming an order that is not there creates nothing — and refuses a
push not signed with the store's extension secret. The extension installs its events on install and removes them on
uninstall."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "extension" / "opencart"
HARNESS = ROOT / "tests" / "push_harness.php"
PHP = shutil.which("php")
pytestmark = [pytest.mark.skipif(PHP is None, reason="php-cli is installed by scripts/system-deps.sh test"),
              pytest.mark.django_db(transaction=True)]
LAYOUT = {"3.0": "oc3", "4.0": "oc4"}
HISTORY = {"oc3": "checkout/order/addOrderHistory", "oc4": "checkout/order/addHistory"}  # the route 4.0.2.3 passes


def _push(layout: str, *, hub: str, store_key, secret: str, order_id: int, push: int = 1, route: str | None = None,
          version: str = "4.0.2.3") -> dict:
    route = route or HISTORY[layout]
    scenario = {"config": {"payment_ocbridge_push": push, "payment_ocbridge_hub_url": hub,
                           "payment_ocbridge_store_key": str(store_key), "payment_ocbridge_secret": secret},
                "route": route, "args": [] if route.endswith("addOrder") else [order_id, 1],
                "output": order_id if route.endswith("addOrder") else None, "version": version}
    out = subprocess.run([PHP, str(HARNESS), layout, str(ROOT / layout), json.dumps(scenario)],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and not out.stderr, out.stderr + out.stdout
    return json.loads(out.stdout)


@pytest.fixture
def pushing_store(opencart_db, live_server, settings):
    """A store with COD confirmation on its shop (its first poll done) and an extension secret."""
    from ocbridge import opencart
    from ocbridge.core.models import Connection, Store
    from ocbridge.opencart import extension
    from testkit import cod_integration

    def make(version: str):
        shop = opencart_db(version)
        store = Store.objects.create(name=f"Push {version}", db_url=shop.url, table_prefix=shop.prefix, country="TR")
        conn = Connection.objects.create(store=store, service="sandbox", base_url="http://127.0.0.1:9",
                                         secret={"token": "t", "webhook_secret": "w"})
        cod_integration(store, conn)
        opencart.poll_new_orders(store)
        return shop, store, extension.new_secret(store)

    return make


def _worker_reads() -> int:
    """The worker's steps for pushes, in this process: claim the polls wanted now (core.polls), run them. Returns how
    many ran."""
    from ocbridge.core import polls

    wanted = polls.default_leases().wanted()
    for name, key in wanted:
        polls.run_one(name, key)
    return len(wanted)


def _confirmations(store) -> list[int]:
    from ocbridge.integrations.cod_confirm.models import Confirmation

    return list(Confirmation.objects.filter(store=store).values_list("order_id", flat=True))


@pytest.mark.parametrize("version", ["3.0", "4.0"])
def test_a_pushed_order_is_read_once_by_the_worker_without_a_job_row(pushing_store, live_server, version):
    from ocbridge.core.models import Exchange, Job
    from ocbridge.opencart.seed import place_order

    shop, store, secret = pushing_store(version)
    layout = LAYOUT[version]
    oid = place_order(shop.engine, version=version)
    result = _push(layout, hub=live_server.url, store_key=store.pk, secret=secret, order_id=oid)
    assert result["seconds"] < 2
    log = Exchange.objects.get(purpose="opencart.push")
    assert (log.status, log.order_id, log.store_id) == (200, oid, store.pk)
    assert log.pending_jobs is None and _confirmations(store) == []  # answered; the worker reads the shop
    assert _worker_reads() == 1 and _worker_reads() == 0
    assert _confirmations(store) == [oid]
    assert not Job.objects.filter(kind__startswith="opencart.").exists()  # a read of the shop is not a Job
    # the same order pushed again (its history event after the add event): its own read, nothing doubled
    _push(layout, hub=live_server.url, store_key=store.pk, secret=secret, order_id=oid, route=(
        "checkout/order/addOrder"))
    assert _worker_reads() == 1
    assert _confirmations(store) == [oid]


def test_a_running_worker_reads_a_pushed_order_at_once(pushing_store, live_server, tmp_path):
    """The push wakes the worker's poll loop (core.polls.want): its read runs without waiting for the regular poll
    (an hour here)."""
    from ocbridge.opencart.seed import place_order
    from testkit import WorkerProcess

    shop, store, secret = pushing_store("3.0")
    store.poll_seconds = 3600  # the regular poll cannot be what finds the order
    store.save(update_fields=["poll_seconds"])
    first = _last_read(store)
    with WorkerProcess(tmp_path / "worker.log", tick=600) as worker:
        _push("oc3", hub=live_server.url, store_key=store.pk, secret=secret, order_id=1)  # read at its start
        worker.wait_for(lambda: _read(store, first), "the worker never read the shop")
        oid = place_order(shop.engine, version="3.0")
        _push("oc3", hub=live_server.url, store_key=store.pk, secret=secret, order_id=oid)
        worker.wait_for(lambda: _confirmations(store) == [oid], "the pushed order was never read")


def _last_read(store):
    from ocbridge.core import polls
    from ocbridge.opencart import feed
    from ocbridge.opencart.polling import POLL

    return polls.last_ok(POLL, feed.shop_key(store))


def _read(store, after) -> bool:
    """A poll of the store's shop ended after `after` (its _last_read() before) and every push's mark is taken."""
    from ocbridge.core import polls

    marks = polls.default_leases().root / polls.WANTED
    last = _last_read(store)
    return last is not None and (after is None or last > after) and not any(marks.glob("[!.]*"))


def test_a_burst_of_100_pushes_writes_no_job_and_the_order_is_handled_once(pushing_store, live_server, tmp_path):
    """100 pushes of one order at once (its add and history events, retried by a flaky shop…) against a running
    worker: each answered and logged, none makes a Job row (before: a stored read and a Job each); the worker's poll
    of the shop runs at once (the regular poll is an hour away) and finds the order once: one confirmation, one start
    of its calls. The pushes are signed as the extension signs them (opencart.extension.sign; the php harness above
    proves the extension's own requests)."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    from ocbridge.core import clock
    from ocbridge.core.models import Exchange, Job
    from ocbridge.opencart import extension
    from ocbridge.opencart.seed import place_order
    from testkit import WorkerProcess

    shop, store, secret = pushing_store("3.0")
    store.poll_seconds = 3600
    store.save(update_fields=["poll_seconds"])
    first = _last_read(store)
    with WorkerProcess(tmp_path / "worker.log", tick=600) as worker:
        worker.wait_for(lambda: _read(store, first), "the worker never read the shop")
        before = set(Job.objects.values_list("pk", flat=True))
        oid = place_order(shop.engine, version="3.0")

        def push(_n: int) -> int:
            ts = int(clock.now().timestamp())
            url = f"{live_server.url}/push/{store.pk}/{oid}/{ts}/{extension.sign(secret, store.pk, oid, ts)}/"
            return httpx.post(url, timeout=30).status_code

        with ThreadPoolExecutor(8) as pool:
            assert set(pool.map(push, range(100))) == {200}
        worker.wait_for(lambda: _confirmations(store) == [oid], "the pushed order was never read")
        worker.wait_for(lambda: _read(store, None), "a push's mark was never taken")
    assert Exchange.objects.filter(purpose="opencart.push", status=200).count() == 100
    new = list(Job.objects.exclude(pk__in=before).values_list("kind", flat=True))
    assert not [k for k in new if not k.startswith("cod_confirm.")], new  # only the order's own work
    assert new.count("cod_confirm.start_attempt") == 1 and _confirmations(store) == [oid]


def test_the_push_names_an_order_but_the_hub_reads_only_what_the_shop_has(pushing_store, live_server):
    from ocbridge.opencart.seed import place_order

    shop, store, secret = pushing_store("3.0")
    _push("oc3", hub=live_server.url, store_key=store.pk, secret=secret, order_id=999999)  # no such order
    assert _worker_reads() == 1 and _confirmations(store) == []
    real = place_order(shop.engine, version="3.0")  # whatever a push names, the read finds what is new
    _push("oc3", hub=live_server.url, store_key=store.pk, secret=secret, order_id=1)
    assert _worker_reads() == 1 and _confirmations(store) == [real]


def test_a_push_not_signed_by_the_stores_secret_is_refused_and_reads_nothing(pushing_store, live_server):
    from ocbridge.core.models import Exchange
    from ocbridge.opencart.seed import place_order

    shop, store, secret = pushing_store("3.0")
    _other, other_store, other_secret = pushing_store("4.0")
    oid = place_order(shop.engine, version="3.0")
    _push("oc3", hub=live_server.url, store_key=store.pk, secret="x" * 48, order_id=oid)
    _push("oc3", hub=live_server.url, store_key=store.pk, secret=other_secret, order_id=oid)  # another store's
    assert _worker_reads() == 0 and _confirmations(store) == []
    refused = Exchange.objects.filter(purpose="opencart.push").values_list("status", "error")
    assert [s for s, _e in refused] == [403, 403]
    assert all("signature does not match" in e for _s, e in refused)


@pytest.mark.parametrize("layout", ["oc3", "oc4"])
def test_push_switched_off_sends_nothing(pushing_store, live_server, layout):
    from ocbridge.core.models import Exchange

    _shop, store, secret = pushing_store("3.0" if layout == "oc3" else "4.0")
    _push(layout, hub=live_server.url, store_key=store.pk, secret=secret, order_id=5, push=0)
    assert not Exchange.objects.filter(purpose="opencart.push").exists()


@pytest.mark.parametrize("layout, version, trigger, action", [
    ("oc3", "", "catalog/model/checkout/order/{m}/after", "extension/payment/ocbridge/push"),
    # OpenCart's own source per tag: the loader fires "model/checkout/order/addHistory/after" in every 4.0 release
    # (4.0.2.3 system/engine/loader.php, model proxy) and "order.addHistory" from 4.1.0.0 (its upgrade_5.php triggers).
    ("oc4", "4.1.0.0", "catalog/model/checkout/order.{m}/after", "extension/ocbridge/payment/ocbridge.push"),
    ("oc4", "4.0.2.3", "catalog/model/checkout/order/{m}/after", "extension/ocbridge/payment/ocbridge.push"),
    ("oc4", "4.0.1.1", "catalog/model/checkout/order/{m}/after", "extension/ocbridge/payment/ocbridge|push"),
    ("oc4", "4.0.0.0", "catalog/model/checkout/order/{m}/after", "extension/ocbridge/payment/ocbridge|push"),
])
def test_install_adds_the_two_events_and_uninstall_removes_them(layout, version, trigger, action):
    result = _push(layout, hub="http://127.0.0.1:9", store_key=1, secret="s" * 40, order_id=1, push=0,
                   version=version or "4.0.2.3")
    history = "addOrderHistory" if layout == "oc3" else "addHistory"
    got = [(e["code"], e["trigger"], e["action"]) if isinstance(e, dict) else
           ((e[0], e[1], e[2]) if layout == "oc3" else (e[0], e[2], e[3])) for e in
           [x[0] if len(x) == 1 else x for x in result["events"]]]
    assert got == [("ocbridge_push_order", trigger.format(m="addOrder"), action),
                   ("ocbridge_push_history", trigger.format(m=history), action)]
    assert result["deleted"] == ["ocbridge_push_order", "ocbridge_push_history"]
