"""Ozon job kinds: products/stock/prices out, import task tracking, postings in, category cache refresh.

The only module that calls both the shop (through `shop.py`) and the Ozon client. Every run re-plans
from the shop's current rows and the Bindings, so a re-run after a crash sends only what is still
unsent, and a deferred stock/price update always sends the latest value (coalescing).
"""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta

from django.db import transaction

from ocbridge.core import clock
from ocbridge.core.errors import ConfigurationError
from ocbridge.core.jobs import Defer, JobKind, register_job_kind, register_schedule, slot_key
from ocbridge.core.models import Binding, Integration, Job
from ocbridge.integrations.ozon import catalog, models as m, rules, shop
from ocbridge.integrations.ozon.config import OzonConfig
from ocbridge.services.ozon import IMPORT_BATCH, POSTINGS_LIMIT, PRICES_BATCH, STOCKS_BATCH, OzonClient

log = logging.getLogger(__name__)

# Per-item stock errors worth retrying on the next run; any other item error waits for a new value.
RETRY_ITEM_CODES = ("TOO_MANY_REQUESTS", "PRICE_UPDATE_TOO_FREQUENT")


def client_for(integration: Integration) -> OzonClient:
    if integration.connection is None or integration.connection.service != "ozon":
        raise ConfigurationError("the ozon integration has no Ozon connection")
    return OzonClient(integration.connection)


def config_of(integration: Integration) -> OzonConfig:
    return OzonConfig.from_settings(integration.settings)


def _bindings(connection, kind: str):
    return Binding.objects.filter(connection=connection, kind=kind)


def _upsert(rows: list[Binding], fields: list[str]) -> None:
    """Insert or update bindings by (connection, kind, local_id) in one statement per 500 rows."""
    if rows:
        Binding.objects.bulk_create(rows, batch_size=500, update_conflicts=True,
                                    unique_fields=["connection", "kind", "local_id"], update_fields=fields)


def live_offers(connection) -> dict[int, str]:
    """product_id → offer_id of cards that exist at Ozon (stock and prices may be sent for them)."""
    out = {}
    for local, external, data in _bindings(connection, m.PRODUCT).values_list("local_id", "external_id", "data"):
        if data.get("ever_live") or data.get("status") in rules.LIVE:
            out[int(local)] = external
    return out


class OzonJob(JobKind):
    """Shared plumbing: integration, config, client, and folding the client's limiter waits into SyncState."""

    max_attempts = 10

    def setup(self, job: Job):
        integration = job.integration
        if integration is None or not integration.enabled:
            return None
        return integration, config_of(integration), client_for(integration), m.SyncState.of(integration)


@register_job_kind
class SyncProducts(OzonJob):
    """Send changed product cards in batches of Ozon's maximum; start tracking each import task."""

    kind = "ozon.sync_products"

    def run(self, job: Job) -> None:
        ctx = self.setup(job)
        if ctx is None:
            return
        integration, cfg, client, state = ctx
        conn = integration.connection
        try:
            rows = shop.catalog_rows(integration.store, cfg)
            attributes, dictionaries = catalog.for_config(client, conn, cfg)
            bindings = {int(b.local_id): (b.hash, b.data) for b in _bindings(conn, m.PRODUCT)}
            plan = rules.plan_products(rows, bindings, cfg, attributes, dictionaries, full=job.payload.get("full", False))
            self._record_missing(conn, plan, rows, cfg, bindings)
            for batch in rules.chunks(plan.send, IMPORT_BATCH):
                self._send(job, integration, client, plan, batch, bindings)
        finally:
            state.add_waits(client)
        state.touch("last_products_at")

    @staticmethod
    def _record_missing(conn, plan: rules.ProductPlan, rows: list[dict], cfg: OzonConfig, bindings) -> None:
        from ocbridge.integrations.ozon.mappers import offer_id

        by_id = {r["product_id"]: r for r in rows if r["product_id"] in plan.missing}
        out = []
        for pid, reasons in plan.missing.items():
            data = dict(bindings.get(pid, ("", {}))[1])
            data.update(status=m.ProductStatus.MISSING if not data.get("ever_live") else data.get("status"),
                        missing=reasons, name=by_id[pid].get("name", ""))
            out.append(Binding(connection=conn, kind=m.PRODUCT, local_id=str(pid),
                               external_id=offer_id(by_id[pid], cfg), hash=bindings.get(pid, ("", {}))[0], data=data))
        _upsert(out, ["data", "external_id"])

    @staticmethod
    def _send(job, integration, client: OzonClient, plan: rules.ProductPlan, batch: list[dict], bindings) -> None:
        offers = [i["offer_id"] for i in batch]
        digest = hashlib.sha256("|".join(f"{o}={plan.hashes[o]}" for o in offers).encode()).hexdigest()[:24]
        key = f"ozon:{integration.store_id}:products:{digest}"
        started = client.import_products(items=batch, key=key)
        now = clock.now()
        with transaction.atomic():
            m.ImportTask.objects.get_or_create(integration=integration, task_id=started.task_id,
                                               defaults={"offer_ids": offers, "created": now})
            rows = []
            for item in batch:
                pid = plan.local_ids[item["offer_id"]]
                accepted, data = bindings.get(pid, ("", {}))
                data = {**data, "status": m.ProductStatus.PENDING if not data.get("ever_live") else data.get("status"),
                        "pending": True, "sent_hash": plan.hashes[item["offer_id"]], "source": plan.sources[item["offer_id"]],
                        "task_id": started.task_id, "missing": [], "name": item["name"], "sent_at": now.isoformat()}
                rows.append(Binding(connection=integration.connection, kind=m.PRODUCT, local_id=str(pid),
                                    external_id=item["offer_id"], hash=accepted, data=data))
            _upsert(rows, ["data", "external_id"])
            Job.objects.enqueue(TrackImportTask, key=f"ozon:{integration.store_id}:task:{started.task_id}:track",
                                integration=integration, payload={"task_id": started.task_id},
                                run_at=now + timedelta(seconds=5))


@register_job_kind
class TrackImportTask(OzonJob):
    """Poll one import task until every item is imported, skipped or failed; store Ozon's per-item errors."""

    kind = "ozon.track_import"
    max_attempts = 20

    def run(self, job: Job) -> None:
        ctx = self.setup(job)
        if ctx is None:
            return
        integration, cfg, client, state = ctx
        task = m.ImportTask.objects.get(integration=integration, task_id=job.payload["task_id"])
        if task.done:
            return
        try:
            items = client.get_import_info(task_id=task.task_id)
        finally:
            state.add_waits(client)
        m.ImportTask.objects.filter(pk=task.pk).update(polls=task.polls + 1)
        if not items or any(i.status == "pending" for i in items):
            raise Defer(min(300, 5 * (task.polls + 1)), "Ozon import task still pending")
        conn = integration.connection
        by_offer = {b.external_id: b for b in _bindings(conn, m.PRODUCT).filter(external_id__in=[i.offer_id for i in items])}
        counts: dict[str, int] = {}
        now = clock.now()
        for item in items:
            counts[item.status] = counts.get(item.status, 0) + 1
            b = by_offer.get(item.offer_id)
            if b is None or b.data.get("task_id") != task.task_id:
                continue  # a newer batch owns this product now
            data = dict(b.data)
            data.update(status=item.status, pending=False, errors=[e.text() for e in item.errors], checked_at=now.isoformat())
            if item.product_id:
                data["ozon_product_id"] = item.product_id
            if item.status in rules.LIVE:
                b.hash = data.get("sent_hash", "")
                data["ever_live"] = True
                data.pop("failed_hash", None)
                b.synced_at = now
            elif item.status == "failed":
                data["failed_hash"] = data.get("sent_hash", "")  # not resent until the card changes
            b.data = data
            b.save(update_fields=["hash", "data", "synced_at"])
        m.ImportTask.objects.filter(pk=task.pk).update(done=True, counts=counts, finished=now)
        if counts.get("imported") and (cfg.stock_out or cfg.prices_out):
            # New cards need their first stock and price now, not at the next scheduled run.
            for kind, on in ((SyncPrices, cfg.prices_out), (SyncStock, cfg.stock_out)):
                if on:
                    Job.objects.enqueue(kind, key=f"ozon:{integration.store_id}:task:{task.task_id}:{kind.kind}",
                                        integration=integration)


@register_job_kind
class SyncStock(OzonJob):
    """Send changed free stock per product–warehouse pair, 100 pairs a call, within Ozon's limits."""

    kind = "ozon.sync_stock"

    def run(self, job: Job) -> None:
        ctx = self.setup(job)
        if ctx is None:
            return
        integration, cfg, client, state = ctx
        if not cfg.warehouse_ids:
            raise ConfigurationError("no Ozon warehouse chosen for stock")
        conn = integration.connection
        now = clock.now()
        rows = shop.stock_rows(integration.store, cfg)
        live = live_offers(conn)
        sent = {b.local_id: (b.hash, b.synced_at) for b in _bindings(conn, m.STOCK).only("local_id", "hash", "synced_at")}
        plan = rules.plan_stocks(rows, live, sent, cfg, now, full=job.payload.get("full", False))
        retry_later = False
        try:
            for start in range(0, len(plan.send), STOCKS_BATCH):
                batch, locals_ = plan.send[start:start + STOCKS_BATCH], plan.locals[start:start + STOCKS_BATCH]
                key = f"ozon:{integration.store_id}:stock:" + hashlib.sha256(repr(batch).encode()).hexdigest()[:24]
                results = client.update_stocks(stocks=batch, key=key)
                retry_later |= self._store(conn, batch, locals_, results)
        finally:
            state.add_waits(client)
        state.touch("last_stock_at")
        if plan.wait_seconds or retry_later:
            raise Defer(max(plan.wait_seconds, rules.STOCK_PAIR_SECONDS), "stock pairs waiting for Ozon's 30 s interval")

    @staticmethod
    def _store(conn, batch: list[dict], locals_: list[str], results) -> bool:
        """Record what Ozon took; True when some pairs must be sent again later (Ozon's per-pair interval)."""
        now = clock.now()
        by_pair = {(r.offer_id, r.warehouse_id): r for r in results}
        rows, retry = [], False
        for item, local in zip(batch, locals_):
            r = by_pair.get((item["offer_id"], item["warehouse_id"]))
            if r is not None and not r.updated and any(e.code in RETRY_ITEM_CODES for e in r.errors):
                retry = True
                continue  # hash unchanged → sent again on the next run, with whatever value is current then
            # Other item errors (WAREHOUSE_NOT_FOUND…) are stored and not resent until the value changes.
            rows.append(Binding(connection=conn, kind=m.STOCK, local_id=local,
                                external_id=f"{item['offer_id']}:{item['warehouse_id']}", hash=str(item["stock"]),
                                synced_at=now, data={"errors": [e.text() for e in (r.errors if r else [])],
                                                     "updated": bool(r and r.updated)}))
        _upsert(rows, ["hash", "synced_at", "data", "external_id"])
        return retry


@register_job_kind
class SyncPrices(OzonJob):
    """Send changed prices, 1000 a call; a product at 10 updates this hour waits (latest value wins)."""

    kind = "ozon.sync_prices"

    def run(self, job: Job) -> None:
        ctx = self.setup(job)
        if ctx is None:
            return
        integration, cfg, client, state = ctx
        conn = integration.connection
        now = clock.now()
        rows = shop.price_rows(integration.store, cfg)
        live = live_offers(conn)
        existing = {int(b.local_id): b for b in _bindings(conn, m.PRICE)}
        sent = {pid: (b.hash, b.data.get("times", [])) for pid, b in existing.items()}
        plan = rules.plan_prices(rows, live, sent, cfg, now, full=job.payload.get("full", False))
        retry_later = False
        try:
            for start in range(0, len(plan.send), PRICES_BATCH):
                batch = plan.send[start:start + PRICES_BATCH]
                pids, values = plan.product_ids[start:start + PRICES_BATCH], plan.values[start:start + PRICES_BATCH]
                key = f"ozon:{integration.store_id}:prices:" + hashlib.sha256(repr(batch).encode()).hexdigest()[:24]
                results = {r.offer_id: r for r in client.import_prices(prices=batch, key=key)}
                out = []
                for item, pid, value in zip(batch, pids, values):
                    r = results.get(item["offer_id"])
                    if r is not None and not r.updated and any(e.code in RETRY_ITEM_CODES for e in r.errors):
                        retry_later = True
                        continue
                    times = rules.recent(sent.get(pid, ("", []))[1], now) + ([now.isoformat()] if r and r.updated else [])
                    out.append(Binding(connection=conn, kind=m.PRICE, local_id=str(pid), external_id=item["offer_id"],
                                       hash=value, synced_at=now,
                                       data={"times": times, "errors": [e.text() for e in (r.errors if r else [])],
                                             "price": item["price"], "old_price": item["old_price"]}))
                _upsert(out, ["hash", "synced_at", "data", "external_id"])
        finally:
            state.add_waits(client)
        state.touch("last_prices_at")
        if plan.wait_seconds or retry_later:
            raise Defer(max(plan.wait_seconds, 60), "prices waiting for Ozon's 10-per-hour limit")


@register_job_kind
class PollPostings(OzonJob):
    """List FBS postings in a sliding window (with overlap) page by page; one job per new posting or status."""

    kind = "ozon.poll_postings"

    def run(self, job: Job) -> None:
        ctx = self.setup(job)
        if ctx is None:
            return
        integration, cfg, client, state = ctx
        now = clock.now()
        since, to = rules.posting_window(state.orders_watermark, now, cfg)
        seen: dict[str, dict] = {}
        try:
            # The window catches new postings; cancellations of older ones are found by a status query over
            # a longer look-back (the list filters on in_process_at, not on the change date).
            for status, start in (("", since), ("cancelled", now - timedelta(days=cfg.cancel_lookback_days))):
                offset = 0
                while True:
                    page = client.list_fbs_postings(since=start, to=to, offset=offset, status=status,
                                                     limit=job.payload.get("page_size", POSTINGS_LIMIT))
                    for p in page.postings:
                        seen[p["posting_number"]] = p
                    if not page.has_next or not page.postings:
                        break
                    offset += len(page.postings)
        finally:
            state.add_waits(client)
        self._dispatch(integration, seen)
        m.SyncState.objects.filter(pk=state.pk).update(orders_watermark=to, last_orders_at=now)

    @staticmethod
    def _dispatch(integration, postings: dict[str, dict]) -> None:
        conn = integration.connection
        bound = {b.external_id: b for b in _bindings(conn, m.POSTING).filter(external_id__in=list(postings))}
        store = integration.store_id
        for number, p in postings.items():
            b = bound.get(number)
            if b is None or b.local_id.startswith("pending:"):
                Job.objects.enqueue(ImportPosting, key=f"ozon:{store}:ozon-event:{number}:import", integration=integration,
                                    payload={"posting": p})
            elif b.data.get("status") != p["status"]:
                Job.objects.enqueue(ApplyPostingStatus, key=f"ozon:{store}:ozon-event:{number}:status:{p['status']}",
                                    integration=integration, payload={"posting_number": number, "status": p["status"]})


@register_job_kind
class ImportPosting(OzonJob):
    """Create the OpenCart order of one posting, once (Binding on posting number; crash-safe)."""

    kind = "ozon.import_posting"

    def run(self, job: Job) -> None:
        integration = job.integration
        if integration is None:
            return
        cfg = config_of(integration)
        conn = integration.connection
        posting = job.payload["posting"]
        number = posting["posting_number"]
        store = integration.store
        b = _bindings(conn, m.POSTING).filter(external_id=number).first()
        if b is not None and not b.local_id.startswith("pending:"):
            return  # already imported
        if b is None:
            # Claim the posting number first (unique on external_id): a crash after the order insert leaves
            # this row behind, and the retry looks for the order instead of inserting a second one.
            b = Binding.objects.create(connection=conn, kind=m.POSTING, local_id=f"pending:{number}", external_id=number,
                                       data={"status": posting["status"], "after_order_id": shop.max_order_id(store)})
        else:
            found = shop.find_order(store, ref=f"Ozon posting {number}", after_order_id=b.data.get("after_order_id", 0))
            if found:
                self._bind(b, found, posting, b.data.get("warnings", []))
                return
        known = {offer: {"product_id": int(local), "name": "", "model": offer}
                 for local, offer in _bindings(conn, m.PRODUCT).values_list("local_id", "external_id")}
        known.update(shop.products_by_offer(store, cfg, [str(p.get("offer_id") or "") for p in posting.get("products") or []
                                                         if str(p.get("offer_id") or "") not in known]))
        from ocbridge.integrations.ozon.mappers import posting_to_order

        draft = posting_to_order(posting, known, cfg, store_currency=shop.default_currency(store))
        order_id = shop.create_order(store, draft)
        self._bind(b, order_id, posting, draft["warnings"])

    @staticmethod
    def _bind(b: Binding, order_id: int, posting: dict, warnings: list[str]) -> None:
        b.local_id = str(order_id)
        b.synced_at = clock.now()
        b.data = {**b.data, "status": posting["status"], "warnings": warnings, "order_id": order_id,
                  "in_process_at": posting.get("in_process_at"), "lines": len(posting.get("products") or [])}
        b.save()


@register_job_kind
class ApplyPostingStatus(OzonJob):
    """Move the OpenCart order of a posting to the mapped status (cancelled → Canceled), forward only."""

    kind = "ozon.apply_posting_status"

    def run(self, job: Job) -> None:
        integration = job.integration
        if integration is None:
            return
        cfg = config_of(integration)
        number, status = job.payload["posting_number"], job.payload["status"]
        b = _bindings(integration.connection, m.POSTING).filter(external_id=number).first()
        if b is None or b.local_id.startswith("pending:"):
            raise Defer(30, "posting not imported yet")
        target = rules.status_target(status, cfg)
        if target is not None:
            shop.set_order_status(integration.store, int(b.local_id), target, comment=f"Ozon: {status}")
        b.data = {**b.data, "status": status}
        b.synced_at = clock.now()
        b.save(update_fields=["data", "synced_at"])


@register_job_kind
class RefreshCatalog(OzonJob):
    """Fetch and cache Ozon's description-category tree (and the mapped categories' attributes)."""

    kind = "ozon.refresh_catalog"

    def run(self, job: Job) -> None:
        ctx = self.setup(job)
        if ctx is None:
            return
        integration, cfg, client, state = ctx
        try:
            catalog.refresh_tree(client, integration.connection)
            catalog.for_config(client, integration.connection, cfg, refresh=True)
        finally:
            state.add_waits(client)


DIRECTIONS = (("products_out", SyncProducts), ("stock_out", SyncStock), ("prices_out", SyncPrices),
              ("orders_in", PollPostings))


def enqueue_sync(integration: Integration, *, full: bool = False, slot: str | None = None) -> list[Job]:
    """Queue one run of every enabled direction (manual "sync now" / "full reconcile", or the schedule)."""
    cfg = config_of(integration)
    slot = slot or f"manual:{clock.now().timestamp():.0f}"
    return [Job.objects.enqueue(kind, key=f"ozon:{integration.store_id}:{kind.kind}:{slot}", integration=integration,
                                payload={"full": full})
            for flag, kind in DIRECTIONS if getattr(cfg, flag)]


@register_schedule("ozon.sync", every=60)
def schedule_sync() -> None:
    """Every minute: integrations whose sync interval slot began get one run per direction (time-slot keys)."""
    for integration in Integration.objects.filter(kind="ozon", enabled=True).select_related("connection"):
        every = max(1, config_of(integration).sync_every_minutes) * 60
        enqueue_sync(integration, slot=slot_key("sched", every))


def test_connection(integration: Integration) -> list[dict]:
    """'Test connection': one cheap authenticated call; returns the seller's warehouses (also shown on the page)."""
    client = client_for(integration)
    return client.list_warehouses()
