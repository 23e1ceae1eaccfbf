"""Ozon job kinds: products/stock/prices out, import task tracking, postings in, ship/cancel out, category cache.

The only module that calls both the shop (through `shop.py`) and the Ozon client. Every run re-plans
from the shop's current rows and the Bindings, so a re-run after a crash sends only what is still
unsent, and a deferred stock/price update always sends the latest value (coalescing).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from ocbridge.core import bindings, clock, outbox, polls
from ocbridge.core.choices import SideEffectState, StockSource
from ocbridge.core.errors import ConfigurationError, TerminalError
from ocbridge.core.jobs import Defer, IntegrationJob, enqueue_unless_waiting, register_job_kind
from ocbridge.core.models import Binding, Integration, Job
from ocbridge.core.polls import Target, register_poll
from ocbridge.core.registry import register_history_consumer
from ocbridge.core.sentences import Sentence, ngettext_noop
from ocbridge.integrations.ozon import catalog, mappers, models as m, rules, shop, tracking
from ocbridge.integrations.ozon.config import OzonConfig
from ocbridge.services.ozon import (IMPORT_BATCH, INFO_BATCH, POSTINGS_LIMIT, PRICES_BATCH, STOCKS_BATCH, ItemResult,
                                   OzonClient)

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


@dataclass
class Context:
    """What every Ozon job works with: the Integration, its parsed settings, a client and the sync state."""

    integration: Integration
    cfg: OzonConfig
    client: OzonClient
    state: m.SyncState

    @property
    def connection(self):
        return self.integration.connection

    @property
    def store(self):
        return self.integration.store


class OzonJob(IntegrationJob):
    """Template for Ozon jobs: build the Context, fold limiter waits into SyncState."""

    def work(self, job: Job, integration: Integration) -> None:
        ctx = Context(integration, config_of(integration), client_for(integration), m.SyncState.of(integration))
        try:
            self.sync(job, ctx)
        finally:
            ctx.state.add_waits(ctx.client)

    def sync(self, job: Job, ctx: Context) -> None:
        raise NotImplementedError


def retry_item(result: ItemResult | None) -> bool:
    """A per-item answer worth sending again on the next run (Ozon's per-item interval), not stored as sent."""
    return result is not None and not result.updated and any(e.code in RETRY_ITEM_CODES for e in result.errors)


def send_batches(ctx: Context, purpose: str, items: list[dict], size: int, call) -> Iterator[tuple[int, list[dict], dict]]:
    """Send `items` in batches of `size` with a content-derived key; yields (start, batch, (offer_id, warehouse) → result)."""
    for start in range(0, len(items), size):
        batch = items[start:start + size]
        key = f"ozon:{ctx.integration.store_id}:{purpose}:" + hashlib.sha256(repr(batch).encode()).hexdigest()[:24]
        results = call(batch, key)
        yield start, batch, {(r.offer_id, r.warehouse_id): r for r in results}  # prices: warehouse_id None


@register_job_kind
class SyncProducts(OzonJob):
    """Send changed product cards in batches of Ozon's maximum, within the daily quota; track each import task."""

    kind = "ozon.sync_products"

    def sync(self, job: Job, ctx: Context) -> None:
        cfg, conn = ctx.cfg, ctx.connection
        plan, bindings, rows = self.plan(ctx, full=job.payload.get("full", False))
        self._record_missing(conn, plan, rows, cfg, bindings)
        send, held, reset_at = plan.send, 0, None
        if len(send) >= rules.QUOTA_CHECK_FROM:
            send, held, reset_at = self._within_quota(ctx, plan, bindings)
        for batch in rules.chunks(send, IMPORT_BATCH):
            self._send(job, ctx, plan, batch, bindings)
        ctx.state.touch("last_products_at")
        if held:
            wait = (reset_at - clock.now()).total_seconds() if reset_at else 3600
            raise Defer(max(60.0, wait),
                        Sentence(*ngettext_noop("{count} card waits for Ozon's daily quota to reset",
                                               "{count} cards wait for Ozon's daily quota to reset"), count=held))

    @staticmethod
    def plan(ctx: Context, *, full: bool = False) -> tuple[rules.ProductPlan, dict, list[dict]]:
        rows = shop.catalog_rows(ctx.store, ctx.cfg)
        attributes, dictionaries = catalog.for_config(ctx.client, ctx.connection, ctx.cfg)
        bindings = {int(b.local_id): (b.local_hash, b.data) for b in _bindings(ctx.connection, m.PRODUCT)}
        return rules.plan_products(rows, bindings, ctx.cfg, attributes, dictionaries, full=full), bindings, rows

    @classmethod
    def pending(cls, ctx: Context) -> bool:
        """Read-only: a card to send, or a product's reasons for not being sent changed (the run records them)."""
        plan, bindings, _rows = cls.plan(ctx)
        return bool(plan.send) or any(bindings.get(pid, ("", {}))[1].get("missing") != reasons
                                      for pid, reasons in plan.missing.items())

    @staticmethod
    def _within_quota(ctx: Context, plan: rules.ProductPlan, bindings) -> tuple[list[dict], int, datetime | None]:
        """Read /v4/product/info/limit (ozon.md §2) and keep only the cards that fit; record it for the status page."""
        limits = ctx.client.get_product_limits()
        new = {i["offer_id"] for i in plan.send if not bindings.get(plan.local_ids[i["offer_id"]], ("", {}))[1].get("ever_live")}
        create_left = min(limits.daily_create.remaining, limits.total.remaining) if limits.total.limit \
            else limits.daily_create.remaining
        send, held = rules.fit_quota(plan.send, new, create_left, limits.daily_update.remaining)
        m.SyncState.objects.filter(pk=ctx.state.pk).update(quota={
            **limits.to_json(), "checked_at": clock.now().isoformat(), "planned": len(plan.send), "held": held})
        reset = limits.daily_create.reset_at if held else ""
        return send, held, datetime.fromisoformat(reset.replace("Z", "+00:00")) if reset else None

    @staticmethod
    def _record_missing(conn, plan: rules.ProductPlan, rows: list[dict], cfg: OzonConfig, bindings) -> None:
        by_id = {r["product_id"]: r for r in rows if r["product_id"] in plan.missing}
        out = []
        for pid, reasons in plan.missing.items():
            data = dict(bindings.get(pid, ("", {}))[1])
            data.update(status=m.ProductStatus.MISSING if not data.get("ever_live") else data.get("status"),
                        missing=reasons, name=by_id[pid].get("name", ""))
            out.append(Binding(connection=conn, kind=m.PRODUCT, local_id=str(pid),
                               external_id=mappers.offer_id(by_id[pid], cfg), local_hash=bindings.get(pid, ("", {}))[0], data=data))
        _upsert(out, ["data", "external_id"])

    @staticmethod
    def _send(job, ctx: Context, plan: rules.ProductPlan, batch: list[dict], bindings) -> None:
        integration = ctx.integration
        offers = [i["offer_id"] for i in batch]
        digest = hashlib.sha256("|".join(f"{o}={plan.hashes[o]}" for o in offers).encode()).hexdigest()[:24]
        started = ctx.client.import_products(items=batch, key=f"ozon:{integration.store_id}:products:{digest}")
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
                                    external_id=item["offer_id"], local_hash=accepted, data=data))
            _upsert(rows, ["data", "external_id"])
            Job.objects.enqueue(TrackImportTask, key=f"ozon:{integration.store_id}:task:{started.task_id}:track",
                                integration=integration, payload={"task_id": started.task_id},
                                run_at=now + timedelta(seconds=5))


@register_job_kind
class TrackImportTask(OzonJob):
    """Poll one import task until every item is imported, skipped or failed; store Ozon's per-item errors."""

    kind = "ozon.track_import"
    max_attempts = 20

    def sync(self, job: Job, ctx: Context) -> None:
        integration, cfg = ctx.integration, ctx.cfg
        task = m.ImportTask.objects.get(integration=integration, task_id=job.payload["task_id"])
        if task.done:
            return
        items = ctx.client.get_import_info(task_id=task.task_id)
        m.ImportTask.objects.filter(pk=task.pk).update(polls=task.polls + 1)
        if not items or any(i.status == "pending" for i in items):
            raise Defer(min(300, 5 * (task.polls + 1)), Sentence(gettext_noop("Ozon import task still pending")))
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
                b.local_hash = data.get("sent_hash", "")
                data["ever_live"] = True
                data.pop("failed_hash", None)
                b.synced_at = now
            elif item.status == "failed":
                data["failed_hash"] = data.get("sent_hash", "")  # not resent until the card changes
            b.data = data
            b.save(update_fields=["local_hash", "data", "synced_at"])
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

    def sync(self, job: Job, ctx: Context) -> None:
        if ctx.store.stock_source == StockSource.OZON:
            return  # Ozon keeps the stock: it is read into the shop (SyncStockIn), never sent back
        if not ctx.cfg.warehouse_ids:
            raise ConfigurationError("no Ozon warehouse chosen for stock")
        conn = ctx.connection
        plan = self.plan(ctx, full=job.payload.get("full", False))
        retry_later = False
        call = lambda batch, key: ctx.client.update_stocks(stocks=batch, key=key)  # noqa: E731
        for start, batch, results in send_batches(ctx, "stock", plan.send, STOCKS_BATCH, call):
            rows_out = []
            for item, local in zip(batch, plan.locals[start:start + len(batch)]):
                r = results.get((item["offer_id"], item["warehouse_id"]))
                if retry_item(r):
                    retry_later = True  # hash unchanged → sent again on the next run, with the value current then
                    continue
                # Other item errors (WAREHOUSE_NOT_FOUND…) are stored and not resent until the value changes.
                rows_out.append(Binding(connection=conn, kind=m.STOCK, local_id=local,
                                        external_id=f"{item['offer_id']}:{item['warehouse_id']}", local_hash=str(item["stock"]),
                                        synced_at=clock.now(), data={"errors": [e.text() for e in (r.errors if r else [])],
                                                                     "updated": bool(r and r.updated)}))
            _upsert(rows_out, ["local_hash", "synced_at", "data", "external_id"])
        ctx.state.touch("last_stock_at")
        if plan.wait_seconds or retry_later:
            raise Defer(max(plan.wait_seconds, rules.STOCK_PAIR_SECONDS),
                        Sentence(gettext_noop("stock pairs waiting for Ozon's 30 s interval")))

    @staticmethod
    def plan(ctx: Context, *, full: bool = False) -> rules.StockPlan:
        sent = {b.local_id: (b.local_hash, b.synced_at)
                for b in _bindings(ctx.connection, m.STOCK).only("local_id", "local_hash", "synced_at")}
        return rules.plan_stocks(shop.stock_rows(ctx.store, ctx.cfg), live_offers(ctx.connection), sent, ctx.cfg,
                                 clock.now(), full=full)

    @classmethod
    def pending(cls, ctx: Context) -> bool:
        """Read-only: a changed value to send (or one waiting for Ozon's interval). Without a warehouse the run
        fails with its message, as it always did."""
        if not ctx.cfg.warehouse_ids:
            return True
        plan = cls.plan(ctx)
        return bool(plan.send or plan.wait_seconds)


@register_job_kind
class SyncStockIn(OzonJob):
    """Ozon is the store's stock source (DESIGN "One stock source per store"): the free FBS stock of every card we
    know is written to the shop's products where it differs, through the journaled stock write, and recorded as
    the last value sent, so nothing goes back to Ozon (and nothing is echoed if the source changes back)."""

    kind = "ozon.stock_in"

    def sync(self, job: Job, ctx: Context) -> None:
        from ocbridge.integrations.ozon import importer

        if ctx.store.stock_source != StockSource.OZON:
            return
        conn = ctx.connection
        live = live_offers(conn)
        by_offer = {offer: pid for pid, offer in live.items()}
        ozon: dict[int, int] = {}
        for chunk in rules.chunks(sorted(by_offer), INFO_BATCH):
            for info in ctx.client.get_products_info(offer_ids=chunk):
                pid = by_offer.get(str(info.get("offer_id")))
                if pid is not None:
                    ozon[pid] = importer.free_stock(info)
        current = {r["product_id"]: int(r["quantity"]) for r in shop.stock_rows(ctx.store, ctx.cfg)}
        changed = {pid: qty for pid, qty in ozon.items() if pid in current and current[pid] != qty}
        if changed:
            digest = hashlib.sha256(repr(sorted(changed.items())).encode()).hexdigest()[:24]
            shop.set_stock(ctx.store, changed, key=f"ozon:{ctx.integration.store_id}:stock-in:{digest}")
        _upsert([Binding(connection=conn, kind=m.STOCK, local_id=f"{pid}:{wh}", external_id=f"{live[pid]}:{wh}",
                         local_hash=str(max(0, qty)), data={"origin": "ozon"})
                 for pid, qty in ozon.items() for wh in ctx.cfg.warehouse_ids], ["local_hash", "external_id", "data"])
        ctx.state.touch("last_stock_at")


@register_job_kind
class SyncPrices(OzonJob):
    """Send changed prices, 1000 a call; a product at 10 updates this hour waits (latest value wins)."""

    kind = "ozon.sync_prices"

    def sync(self, job: Job, ctx: Context) -> None:
        conn, now = ctx.connection, clock.now()
        plan, sent = self.plan(ctx, now, full=job.payload.get("full", False))
        retry_later = False
        call = lambda batch, key: ctx.client.import_prices(prices=batch, key=key)  # noqa: E731
        for start, batch, results in send_batches(ctx, "prices", plan.send, PRICES_BATCH, call):
            rows_out = []
            end = start + len(batch)
            for item, pid, value in zip(batch, plan.product_ids[start:end], plan.values[start:end]):
                r = results.get((item["offer_id"], None))
                if retry_item(r):
                    retry_later = True
                    continue
                times = rules.recent(sent.get(pid, ("", []))[1], now) + ([now.isoformat()] if r and r.updated else [])
                rows_out.append(Binding(connection=conn, kind=m.PRICE, local_id=str(pid), external_id=item["offer_id"],
                                        local_hash=value, synced_at=now,
                                        data={"times": times, "errors": [e.text() for e in (r.errors if r else [])],
                                              "price": item["price"], "old_price": item["old_price"]}))
            _upsert(rows_out, ["local_hash", "synced_at", "data", "external_id"])
        ctx.state.touch("last_prices_at")
        if plan.wait_seconds or retry_later:
            raise Defer(max(plan.wait_seconds, 60), Sentence(gettext_noop("prices waiting for Ozon's 10-per-hour limit")))

    @staticmethod
    def plan(ctx: Context, now, *, full: bool = False) -> tuple[rules.PricePlan, dict]:
        sent = {int(b.local_id): (b.local_hash, b.data.get("times", [])) for b in _bindings(ctx.connection, m.PRICE)}
        owned = set(ctx.cfg.ozon_owned_offer_ids)  # two-way: SyncOwnedPrices decides those, by both sides' hashes
        live = {pid: offer for pid, offer in live_offers(ctx.connection).items() if offer not in owned}
        return rules.plan_prices(shop.price_rows(ctx.store, ctx.cfg), live, sent, ctx.cfg, now, full=full), sent

    @classmethod
    def pending(cls, ctx: Context) -> bool:
        """Read-only: a changed price to send (or one waiting for Ozon's 10-per-hour limit)."""
        plan, _sent = cls.plan(ctx, clock.now())
        return bool(plan.send or plan.wait_seconds)


@register_job_kind
class SyncOwnedPrices(OzonJob):
    """Two-way prices of the offers the owner lets Ozon own (core.bindings): a price changed in Ozon's cabinet is
    written to the shop, a price changed in the shop is sent to Ozon, a change on both sides follows the owner's
    conflict rule (the losing value is kept on the Binding and logged), and reading back our own write changes
    nothing (each side's hash is recorded as the write leaves it). Ozon's promotions are not the seller's price
    and never reach the shop. A new Ozon-owned offer takes Ozon's price."""

    kind = "ozon.sync_owned_prices"

    def sync(self, job: Job, ctx: Context) -> None:
        owned, conn, cfg = set(ctx.cfg.ozon_owned_offer_ids), ctx.connection, ctx.cfg
        live = {pid: offer for pid, offer in live_offers(conn).items() if offer in owned}
        if not live:
            return
        local = {r["product_id"]: mappers.money(r["price"]) for r in shop.price_rows(ctx.store, cfg)
                 if r["product_id"] in live}
        remote: dict[str, str] = {}
        for chunk in rules.chunks(sorted(live.values()), PRICES_BATCH):
            cursor = ""
            while True:
                items, cursor = ctx.client.get_prices(offer_ids=chunk, cursor=cursor)
                remote.update({i["offer_id"]: mappers.money((i.get("price") or {}).get("price")) for i in items})
                if not cursor:
                    break
        known = {b.local_id: b for b in _bindings(conn, m.OWNED_PRICE)}
        now, to_ozon = clock.now(), []
        for pid, offer in sorted(live.items()):
            if pid not in local or offer not in remote:
                continue
            lp, rp = local[pid], remote[offer]
            b = known.get(str(pid)) or Binding.objects.create(connection=conn, kind=m.OWNED_PRICE, local_id=str(pid),
                                                              external_id=offer)
            if not b.remote_hash and not b.local_hash:  # first sight: Ozon owns it
                decision = bindings.Decision(bindings.LOCAL if lp != rp else None, baseline=lp == rp)
            else:
                decision = bindings.decide(b, bindings.digest(lp), bindings.digest(rp), cfg.conflict_rule,
                                           local_seen_at=now, remote_seen_at=now)
            lost = None
            if decision.conflict:
                lost = {"side": "shop" if decision.write_to == bindings.LOCAL else "ozon",
                        "price": lp if decision.write_to == bindings.LOCAL else rp, "rule": cfg.conflict_rule}
                log.warning("ozon price conflict on %s (shop %s, Ozon %s): %s rule keeps %s", offer, lp, rp,
                            cfg.conflict_rule, rp if decision.write_to == bindings.LOCAL else lp)
            if decision.write_to == bindings.LOCAL:
                key = f"ozon:{ctx.integration.store_id}:owned-price:{pid}:{b.remote_hash or '-'}>{bindings.digest(rp)}"
                done = shop.set_product_price(ctx.store, pid, expected=lp, new=rp, key=key)
                if done.state == "done":
                    bindings.record(b, local_hash=bindings.digest(rp), remote_hash=bindings.digest(rp),
                                    origin=bindings.REMOTE, lost=lost)
            elif decision.write_to == bindings.REMOTE:
                to_ozon.append((b, lp, lost))
            elif decision.baseline:
                bindings.record(b, local_hash=bindings.digest(lp), remote_hash=bindings.digest(rp),
                                origin=bindings.REMOTE)
        for batch in rules.chunks(to_ozon, PRICES_BATCH):
            items = [{"offer_id": b.external_id, "price": lp, "old_price": "0", "currency_code": cfg.currency}
                     for b, lp, _ in batch]
            key = f"ozon:{ctx.integration.store_id}:owned-prices:" + hashlib.sha256(repr(items).encode()).hexdigest()[:24]
            results = {r.offer_id: r for r in ctx.client.import_prices(prices=items, key=key)}
            for b, lp, lost in batch:
                r = results.get(b.external_id)
                if r is not None and r.updated:
                    bindings.record(b, local_hash=bindings.digest(lp), remote_hash=bindings.digest(lp),
                                    origin=bindings.LOCAL, lost=lost)


ORDERS_POLL = "ozon.orders"
RETURNS_POLL = "ozon.returns"


def read_postings(ctx: Context, *, limit: int = POSTINGS_LIMIT) -> int:
    """New postings (created in a sliding window) and changed ones (status changed since the last read), page by
    page with Ozon's cursor; one job per new posting or new status; how many jobs. The first read also takes every
    posting still to be packed or handed over, however old (the unfulfilled list), so no open order is left behind.
    Its window end is stored when it found something (else at most hourly: core.polls.window_read)."""
    now, cfg, key = clock.now(), ctx.cfg, polls.integration_key(ctx.integration)
    since, to = rules.posting_window(polls.window_start(ORDERS_POLL, key, ctx.state.orders_watermark), now, cfg)
    seen: dict[str, dict] = {}
    flt = {"statuses": cfg.orders_statuses or None, "warehouse_ids": cfg.orders_warehouse_ids or None}
    for window in ({"since": since, "to": to}, {"changed_since": since, "changed_to": to}):
        for p in _pages(lambda cursor, w=window: ctx.client.list_fbs_postings(cursor=cursor, limit=limit, **w, **flt)):
            seen[p["posting_number"]] = p
    if ctx.state.orders_watermark is None:
        for p in _pages(lambda cursor: ctx.client.list_unfulfilled_postings(
                cursor=cursor, limit=limit, cutoff_from=now - timedelta(days=365), cutoff_to=now + timedelta(days=60),
                **flt)):
            seen.setdefault(p["posting_number"], p)
    made = PollPostings._dispatch(ctx.integration, seen)
    if polls.window_read(ORDERS_POLL, key, ctx.state.orders_watermark, to, found=bool(made)):
        m.SyncState.objects.filter(pk=ctx.state.pk).update(orders_watermark=to, last_orders_at=now)
    return made


def read_returns(ctx: Context) -> int:
    """FBS returns whose state changed since the last read (`/v1/returns/list`); one job per return, once; how many
    returns it saw. Its window end is stored as read_postings' is."""
    now, key = clock.now(), polls.integration_key(ctx.integration)
    start = polls.window_start(RETURNS_POLL, key, ctx.state.returns_watermark)
    since = (start or now - RETURNS_LOOKBACK) - timedelta(minutes=ctx.cfg.poll_overlap_minutes)
    last_id, seen = 0, 0
    while True:
        page = ctx.client.list_returns(changed_since=since, changed_to=now, last_id=last_id)
        for r in page.returns:
            seen += 1
            Job.objects.enqueue(ApplyReturn, key=f"ozon:{ctx.integration.store_id}:return:{r['id']}",
                                integration=ctx.integration, payload={"return": r})
        if not page.has_next or not page.returns:
            break
        last_id = page.last_id
    if polls.window_read(RETURNS_POLL, key, ctx.state.returns_watermark, now, found=bool(seen)):
        m.SyncState.objects.filter(pk=ctx.state.pk).update(returns_watermark=now)
    return seen


def _poll(target: Target, read) -> int:
    """One routine Ozon read (core.polls, no Job row) of the target's integration."""
    integration = polls.integration_of(target)
    if integration is None or not (integration.enabled and integration.store.enabled):
        return 0
    ctx = Context(integration, config_of(integration), client_for(integration), m.SyncState.of(integration))
    try:
        return read(ctx)
    finally:
        ctx.state.add_waits(ctx.client)


def _orders_every(integration) -> float | None:
    cfg = config_of(integration)
    return max(SHOP_POLL_SECONDS, cfg.orders_every_seconds) if cfg.orders_in else None


def _returns_every(integration) -> float | None:
    cfg = config_of(integration)
    return max(1, cfg.sync_every_minutes) * 60 if cfg.returns_in else None


@register_poll(ORDERS_POLL, targets=lambda: polls.integration_targets("ozon", _orders_every),
               label=_("Reading new and changed postings from Ozon"))
def poll_postings(target: Target) -> int:
    """New and changed postings every `orders_every_seconds` (default a minute): an Ozon order is in the shop
    within about that, not at the 15-minute catalogue sync. Cursor paging makes an idle poll two calls."""
    return _poll(target, read_postings)


@register_poll(RETURNS_POLL, targets=lambda: polls.integration_targets("ozon", _returns_every),
               label=_("Reading returns from Ozon"))
def poll_returns(target: Target) -> int:
    return _poll(target, read_returns)


@register_job_kind
class PollPostings(OzonJob):
    """"Sync now" of the postings (read_postings) as a job; the routine read is the ozon.orders poll."""

    kind = "ozon.poll_postings"
    routine = True  # a periodic read: re-queued however often its worker dies, never parked

    def sync(self, job: Job, ctx: Context) -> None:
        read_postings(ctx, limit=job.payload.get("page_size", POSTINGS_LIMIT))

    @staticmethod
    def _dispatch(integration, postings: dict[str, dict]) -> int:
        conn = integration.connection
        bound = {b.external_id: b for b in _bindings(conn, m.POSTING).filter(external_id__in=list(postings))}
        store, made = integration.store_id, 0
        for number, p in postings.items():
            b = bound.get(number)
            if b is None or b.local_id.startswith("pending:"):
                made += 1
                Job.objects.enqueue(ImportPosting, key=f"ozon:{store}:ozon-event:{number}:import", integration=integration,
                                    payload={"posting": p})
            elif b.data.get("status") != p["status"]:
                made += 1
                cancellation = p.get("cancellation") or {}
                Job.objects.enqueue(ApplyPostingStatus, key=f"ozon:{store}:ozon-event:{number}:status:{p['status']}",
                                    integration=integration,
                                    payload={"posting_number": number, "status": p["status"],
                                             "reason": cancellation.get("cancel_reason") or "",
                                             "initiator": cancellation.get("cancellation_initiator") or ""})
        return made


@register_job_kind
class ImportPosting(OzonJob):
    """Create the OpenCart order of one posting, once (Binding on posting number; crash-safe)."""

    kind = "ozon.import_posting"
    only_enabled = False  # a posting seen before the owner switched the integration off is still imported once

    def sync(self, job: Job, ctx: Context) -> None:
        conn, store, cfg = ctx.connection, ctx.store, ctx.cfg
        posting = job.payload["posting"]
        number = posting["posting_number"]
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
        draft = mappers.posting_to_order(posting, known, cfg, store_currency=shop.default_currency(store))
        order_id = shop.create_order(store, draft)
        self._bind(b, order_id, posting, draft["warnings"])

    @staticmethod
    def _bind(b: Binding, order_id: int, posting: dict, warnings: list[str]) -> None:
        b.local_id = str(order_id)
        b.synced_at = clock.now()
        b.data = {**b.data, "status": posting["status"], "warnings": warnings, "order_id": order_id,
                  "in_process_at": posting.get("in_process_at"), "lines": len(posting.get("products") or [])}
        b.save()


def _pages(fetch) -> Iterator[dict]:
    """Every posting of a cursor-paged list (`fetch(cursor)` → PostingPage), page after page while has_next."""
    cursor = ""
    while True:
        page = fetch(cursor)
        yield from page.postings
        if not page.has_next or not page.cursor or not page.postings:
            return
        cursor = page.cursor


def _posting_binding(ctx: Context, number: str) -> Binding:
    b = _bindings(ctx.connection, m.POSTING).filter(external_id=number).first()
    if b is None or b.local_id.startswith("pending:"):
        raise Defer(30, Sentence(gettext_noop("posting not imported yet")))
    return b


@register_job_kind
class ApplyPostingStatus(OzonJob):
    """Move the OpenCart order of a posting to the mapped status (cancelled → Canceled), forward only."""

    kind = "ozon.apply_posting_status"
    only_enabled = False

    def sync(self, job: Job, ctx: Context) -> None:
        number, status = job.payload["posting_number"], job.payload["status"]
        b = _posting_binding(ctx, number)
        target = rules.status_target(status, ctx.cfg)
        if target is not None:
            order_id = int(b.local_id)
            if rules.should_apply(status, shop.order_status(ctx.store, order_id), ctx.cfg):
                shop.set_order_status(ctx.store, order_id, target, comment=rules.status_comment(job.payload), key=job.key)
        b.data = {**b.data, "status": status}
        b.synced_at = clock.now()
        b.save(update_fields=["data", "synced_at"])


# --- shop → Ozon: ship and cancel postings when the shop does -------------------------------------------

SHOP_POLL_SECONDS = 15  # the shop poll interval (DESIGN.md): new postings are not read more often


@register_history_consumer("ozon")
def on_history(integration: Integration, events, *, missed: bool = False) -> None:
    """The shared order-history feed (opencart.feed) hands the store's new order_history rows here: one job per Ozon
    order the shop moved on (ship, rFBS delivery steps, cancel), keyed by (posting, step) as ozon.md §8 asks;
    tracking numbers matched in the comments are kept; any change of a non-Ozon order's stock queues a stock run
    at once. Rows from while it was switched off (`missed`) count the same: the posting still has to move."""
    cfg = config_of(integration)
    if not (cfg.status_out or cfg.stock_out):
        return
    ids = {str(e.order_id) for e in events}
    bound = {b.local_id: b for b in _bindings(integration.connection, m.POSTING).filter(local_id__in=ids)}
    for e in events:
        b = bound.get(str(e.order_id))
        if b is None:
            continue
        found = tracking.from_comments(cfg.tracking_pattern, [e.comment])
        if found and found != b.data.get("tracking_comment"):
            b.data = {**b.data, "tracking_comment": found}
            b.save(update_fields=["data"])
        step = rules.shop_action(e.order_status_id, e.comment, cfg)
        if step:
            kind = CancelPosting if step == "cancel" else AdvancePosting
            Job.objects.enqueue(kind, key=f"ozon:{integration.store_id}:posting-{b.external_id}:{step}",
                                integration=integration,
                                payload={"posting_number": b.external_id, "order_id": e.order_id,
                                         "target": step, "history_id": e.order_history_id})
    # An order placed or moved in the shop may change stock Ozon shows: our own rows (Ozon orders) do not.
    if cfg.stock_out and cfg.warehouse_ids and integration.store.stock_source != StockSource.OZON \
            and any(not e.comment.startswith(rules.OUR_COMMENT) for e in events):
        Job.objects.enqueue(SyncStock, key=f"ozon:{integration.store_id}:stock-after-history:"
                                           f"{events[-1].order_history_id}", integration=integration)


def _write(ctx: Context, key: str, step: str, number: str, call, tracking_no: str = ""):
    """One Ozon posting write through the outbox (DESIGN.md: every marketplace write): made once per key; when
    its answer is lost the posting is re-read and the write counts as made if the posting shows it."""
    def ask(effect):
        return number if rules.step_taken(step, ctx.client.get_fbs_posting(posting_number=number), tracking_no) else None

    def send(effect):
        call()
        return number

    effect = outbox.request(key, kind=f"ozon.{step}", service="ozon", store=ctx.store, connection=ctx.connection,
                            integration=ctx.integration)
    return outbox.perform(effect, send, ask=ask)


def _note(b: Binding, action: str, state: str, posting: dict, detail: str = "", why: str = "", **extra) -> None:
    """Record the outcome of a status-out action on the posting's Binding (the idempotency guard and the UI).
    `detail` is Ozon's own words (a substatus, its error, its cancel reason); `why` a code of ours the page shows
    in the reader's language (labels.status_out)."""
    out = dict(b.data.get("status_out") or {})
    out[action] = {**out.get(action, {}), "state": state, "detail": detail, "why": why,
                   "posting_status": posting.get("status") or "", "at": clock.now().isoformat(), **extra}
    b.data = {**b.data, "status_out": out, "status": posting.get("status") or b.data.get("status")}
    b.save(update_fields=["data"])


@register_job_kind
class AdvancePosting(OzonJob):
    """Move a posting as far as the shop's status asks: pack it (FBS and rFBS), and for rFBS with the seller's own
    delivery set the tracking number, then delivering → last mile → delivered. The posting is re-read before and
    after every call (a 200 from ship is not success; per-posting errors come inside a 200)."""

    kind = "ozon.advance_posting"
    max_attempts = 12
    MAX_CALLS = 6  # pack, resume, tracking, delivering, last mile, delivered

    def sync(self, job: Job, ctx: Context) -> None:
        number, target = job.payload["posting_number"], job.payload.get("target", "ship")
        b = _posting_binding(ctx, number)
        if (b.data.get("status_out") or {}).get(target, {}).get("state") in ("done", "refused"):
            return  # decided by an earlier run
        tracking_no, source = tracking.find(ctx.store, int(b.local_id), b.data)
        packed = False
        for _ in range(self.MAX_CALLS + 1):
            posting = ctx.client.get_fbs_posting(posting_number=number)
            if not rules.is_rfbs(posting):
                target = "ship"  # Ozon (or its carrier) delivers an FBS posting: packing is all the seller does
            sent = int((b.data.get("status_out") or {}).get(target, {}).get("sent", 0))
            step = rules.advance_step(posting, target, sent=sent > 0, tracking=tracking_no)
            if step == "ship" and packed:  # accepted with 200, then `ship_failed`: pack again on the next run
                _note(b, target, "failed", posting, detail=posting.get("substatus", ""))
                raise Defer(60, Sentence(gettext_noop("Ozon reports ship_failed; packing again later")))
            if step == "ship":
                packed = True
                # A new key per attempt: a repeat after `ship_failed` is a new side effect, not a replay.
                key = f"ozon:{ctx.integration.store_id}:posting-{number}:ship:{sent + 1}"
                effect = _write(ctx, key, "ship", number, lambda: ctx.client.ship_posting(
                    posting_number=number, packages=rules.packages_of(posting), key=key))
                if self._stopped(b, target, posting, effect):
                    return
                _note(b, target, "sent", posting, sent=sent + 1)
            elif step == "wait":
                _note(b, target, "sent", posting, detail=posting.get("substatus", ""))
                raise Defer(30, Sentence(gettext_noop("Ozon is still processing the ship request")))
            elif step in ("done", "refused"):
                why = "" if step == "done" else "not_allowed"
                if step == "done" and rules.is_rfbs(posting) and target != "ship" and not tracking_no:
                    why = "no_tracking"
                _note(b, target, step, posting, why=why, allowed=posting.get("available_actions") or [])
                return
            elif self._call(ctx, b, number, step, tracking_no, source, posting, target):
                return
        raise Defer(30, Sentence(gettext_noop("re-reading the posting after moving it on")))

    @staticmethod
    def _stopped(b: Binding, target: str, posting: dict, effect) -> bool:
        """A write the outbox did not make: refused by Ozon (failed), in doubt (unknown: never resent, a person
        looks), or paused (switched off). Noted on the posting's row; the job stops."""
        if effect.state == SideEffectState.SENT:
            return False
        state = {SideEffectState.FAILED: "refused", SideEffectState.UNKNOWN: "unknown"}.get(effect.state, "paused")
        # the row's reason as said too (its "unknown"/"paused" reason is ours; Ozon's refusal its own words)
        _note(b, target, state, posting, detail=effect.error or "", detail_said=effect.error_said)
        return True

    @classmethod
    def _call(cls, ctx: Context, b: Binding, number: str, step: str, tracking_no: str, source: str, posting: dict,
              target: str) -> bool:
        """Make one step's call (through the outbox); True when the job stops here."""
        key = f"ozon:{ctx.integration.store_id}:posting-{number}:{step}" + (f":{tracking_no}" if step == "tracking" else "")

        def call():
            if step == "resume":
                ctx.client.resume_disputed(posting_numbers=[number], key=key)
                return
            if step == "tracking":
                results = ctx.client.set_tracking_numbers(tracking={number: tracking_no}, key=key)
            else:
                method = {"delivering": ctx.client.mark_delivering, "last_mile": ctx.client.mark_last_mile,
                          "delivered": ctx.client.mark_delivered}[step]
                results = method(posting_numbers=[number], key=key)
            r = next((r for r in results if r.posting_number == number), None)
            if r is None or not r.ok:  # a per-posting refusal inside a 200
                raise TerminalError("ozon", "posting_step", f"Ozon refused {step}: {(r.error if r else '') or 'no answer'}")

        if cls._stopped(b, target, posting, _write(ctx, key, step, number, call, tracking_no)):
            return True
        if step == "tracking":
            b.data = {**b.data, "tracking_number": tracking_no, "tracking_source": source}
            b.save(update_fields=["data"])
        return False


@register_job_kind
class CancelPosting(OzonJob):
    """Cancel the posting at Ozon when the shop cancels the order, with the owner's reason from Ozon's live list
    (and the message Ozon requires for "other"), if the posting still allows it."""

    kind = "ozon.cancel_posting"

    def sync(self, job: Job, ctx: Context) -> None:
        number = job.payload["posting_number"]
        b = _posting_binding(ctx, number)
        if (b.data.get("status_out") or {}).get("cancel", {}).get("state") in ("done", "refused"):
            return
        posting = ctx.client.get_fbs_posting(posting_number=number)
        step = rules.cancel_step(posting)
        if step == "cancel":
            reason = catalog.seller_reason(ctx.client, ctx.connection, ctx.cfg.cancel_reason_id)
            message = ctx.cfg.cancel_reason_message.strip()
            if int(reason["id"]) == catalog.OTHER_REASON and not message:
                message = f"Order {b.local_id} cancelled in the shop"
            effect = _write(ctx, f"{job.key}:cancel", "cancel", number, lambda: ctx.client.cancel_posting(
                posting_number=number, cancel_reason_id=int(reason["id"]), cancel_reason_message=message,
                key=f"{job.key}:cancel"))
            if AdvancePosting._stopped(b, "cancel", posting, effect):
                return
            posting = ctx.client.get_fbs_posting(posting_number=number)
            step = rules.cancel_step(posting)
            if step != "done":
                _note(b, "cancel", "sent", posting)
                raise Defer(30, Sentence(gettext_noop("Ozon has not cancelled the posting yet")))
        if step == "done":
            _note(b, "cancel", "done", posting, detail=(posting.get("cancellation") or {}).get("cancel_reason", ""))
        else:
            _note(b, "cancel", "refused", posting, why="not_allowed", allowed=posting.get("available_actions") or [])


# --- returns: Ozon → shop ---------------------------------------------------------------------------------

RETURNS_LOOKBACK = timedelta(days=30)


@register_job_kind
class PollReturns(OzonJob):
    """"Sync now" of the returns (read_returns) as a job; the routine read is the ozon.returns poll."""

    kind = "ozon.poll_returns"
    routine = True  # a periodic read: re-queued however often its worker dies, never parked

    def sync(self, job: Job, ctx: Context) -> None:
        read_returns(ctx)


@register_job_kind
class ApplyReturn(OzonJob):
    """A history entry on the posting's order at the owner's return status (OpenCart's stock rule applies)."""

    kind = "ozon.apply_return"
    only_enabled = False

    def sync(self, job: Job, ctx: Context) -> None:
        r = job.payload["return"]
        b = _posting_binding(ctx, str(r.get("posting_number") or ""))
        returns = dict(b.data.get("returns") or {})
        if str(r["id"]) in returns:
            return
        product = r.get("product") or {}
        visual = (r.get("visual") or {}).get("status") or {}
        status, sys_name = visual.get("display_name", ""), visual.get("sys_name", "")
        comment = (f"{rules.OUR_COMMENT}return {r['id']} of {product.get('offer_id', '')} × {product.get('quantity', 1)}"
                   f" — {r.get('return_reason_name', '')} ({status})")
        written = shop.set_order_status(ctx.store, int(b.local_id), ctx.cfg.return_status_id, comment=comment,
                                        key=job.key)
        returns[str(r["id"])] = {"status": status, "sys_name": sys_name, "reason": r.get("return_reason_name", ""),
                                 "offer_id": product.get("offer_id", ""), "written": written,
                                 "at": clock.now().isoformat()}
        b.data = {**b.data, "returns": returns}
        b.save(update_fields=["data"])


@register_job_kind
class ImportOzonProducts(OzonJob):
    """Cards that exist only on Ozon become shop products (integrations/ozon/importer.py), once each."""

    kind = "ozon.import_products"

    def sync(self, job: Job, ctx: Context) -> None:
        from ocbridge.integrations.ozon import importer

        importer.run(ctx)


@register_job_kind
class RefreshCatalog(OzonJob):
    """Fetch and cache Ozon's description-category tree (and the mapped categories' attributes)."""

    kind = "ozon.refresh_catalog"

    def sync(self, job: Job, ctx: Context) -> None:
        catalog.refresh_tree(ctx.client, ctx.connection)
        catalog.for_config(ctx.client, ctx.connection, ctx.cfg, refresh=True)


DIRECTIONS = (("products_out", SyncProducts), ("products_in", ImportOzonProducts), ("stock_out", SyncStock),
              ("prices_out", SyncPrices),
              ("orders_in", PollPostings), ("returns_in", PollReturns), ("ozon_owned_offer_ids", SyncOwnedPrices))


POLLED = (PollPostings, PollReturns)  # read by routine polls between the owner's "Sync now"s


def sync_kinds(integration: Integration, *, polled: bool = True) -> list[type]:
    """The job kinds of every enabled direction (`polled=False`: without those routine polls read)."""
    cfg = config_of(integration)
    kinds = [kind for flag, kind in DIRECTIONS if getattr(cfg, flag) and (polled or kind not in POLLED)]
    if integration.store.stock_source == StockSource.OZON:  # Ozon keeps the stock: read it, never send it
        kinds = [SyncStockIn if kind is SyncStock else kind for kind in kinds]
        kinds += [] if SyncStockIn in kinds else [SyncStockIn]
    return kinds


def enqueue_sync(integration: Integration, *, full: bool = False) -> tuple[list[str], list[str]]:
    """The owner's "Sync now" / "Full reconcile": one run of every enabled direction, except where a run of it is
    queued or running already — that run takes the request, so a double click queues nothing more (for a full
    reconcile only a waiting full run counts). The key is the second it was asked in (two requests racing in one
    second make one run). Returns the job kinds queued now and those whose run was already waiting."""
    slot, queued, waiting = f"manual:{clock.now().timestamp():.0f}", [], []
    for kind in sync_kinds(integration):
        made = enqueue_unless_waiting(kind, key=f"ozon:{integration.store_id}:{kind.kind}:{slot}",
                                      integration=integration, payload={"full": full},
                                      waiting_payload={"full": True} if full else None)
        (queued if made else waiting).append(kind.kind)
    return queued, waiting


SYNC_POLL = "ozon.sync"


def _sync_every(integration: Integration) -> float:
    return max(1, config_of(integration).sync_every_minutes) * 60


def queue_due(ctx: Context, slot: int) -> int:
    """The sync at its interval: a direction that sends (products, stock, prices) is queued only when its plan has
    something to send — checked read-only, as its run plans; directions that must read Ozon to know (products
    and stock in, Ozon-owned prices) are queued each interval. Returns how many jobs it queued."""
    made = 0
    for kind in sync_kinds(ctx.integration, polled=False):
        pending = getattr(kind, "pending", None)
        if pending is None or pending(ctx):
            made += enqueue_unless_waiting(kind, key=f"ozon:{ctx.integration.store_id}:{kind.kind}:sched-{slot}",
                                           integration=ctx.integration, payload={"full": False})
    return made


@register_poll(SYNC_POLL, targets=lambda: polls.integration_targets("ozon", _sync_every),
               label=_("Checking products, stock and prices to send to Ozon"))
def poll_sync(target: Target) -> int:
    """A routine poll (core.polls, no Job row): an idle shop's sync writes nothing; the page's "last checked"
    times come from this poll."""
    slot = polls.slot_of(target, clock.now().timestamp())  # the slot whose lease this dispatcher took
    return _poll(target, lambda ctx: queue_due(ctx, slot))


def test_connection(integration: Integration) -> list[dict]:
    """'Test connection': one cheap authenticated call; returns the seller's warehouses (also shown on the page)."""
    client = client_for(integration)
    return catalog.warehouses(client, integration.connection)  # at most one real call a minute
