"""One read per shop, one cursor per consumer: the shared order feed every integration builds on.

Each poll (opencart.polling, a routine poll of core.polls: every Store.poll_seconds, default 15 s) reads a shop's new orders (`order_id` watermark, orders
at status 0 re-read by primary key for 24 h) and its `order_history` rows after the last id read — once, for
every feature of every store on that shop — and hands each integration what lies after its own cursor.

Registering a consumer (COD, order lookup, Ozon, OneBox, Despatch, risk score…) — in the integration's
jobs module, imported from its AppConfig.ready():

    from ocbridge.core.registry import register_history_consumer, register_missed_orders, register_order_consumer

    @register_order_consumer("despatch")
    def on_new_order(integration, order):          # opencart.orders.Order, status > 0, of the integration's store
        ...

    @register_missed_orders("despatch")              # optional
    def on_missed_order(integration, order):       # arrived while the integration was switched off
        ...                                        # (without a handler these go to on_new_order)

    @register_history_consumer("despatch")
    def on_history(integration, events, *, missed):  # list[opencart.orders.HistoryEvent] of its store, id order;
        ...                                        # missed=True: they happened while it was switched off

The contract:
- Handlers run in a hub transaction together with the move of that integration's cursor. If a handler raises,
  its cursor stays and the same orders/events come again next poll (handlers must be idempotent: a unique key
  per order is enough); the other integrations are not held back.
- Handlers create Jobs for real work; they do not call providers, write to the shop or read it themselves: on
  SQLite the hub transaction holds the hub's write lock, and every other writer of the hub waits while it is open.
  What a handler needs from the shop beyond the order or event is read by the integration's feed reader
  (`register_feed_reader`), which the feed calls just before the transaction; the handler finds its result in
  `prepared()`.
- A transaction whose BEGIN finds the hub's write lock held past SQLite's busy timeout (a machine short of CPU)
  is tried again after a short jittered pause, for up to LOCKED_PATIENCE seconds, with one warning: the orders
  are not left to wait a whole poll interval for it.
- A new integration starts at the shop's current position (it is not handed the shop's past).
- Switching an integration off stops its cursor; switching it on hands over what arrived meanwhile as missed,
  so the same orders reach it whatever else runs. (A shop whose every store is switched off is not polled at
  all; switching a store on again continues from where its poll stopped, as "new".)
- An order at status 0 is followed by primary key for 24 h (at most opencart.orders.MAX_PENDING at a time: the
  overflow is counted on PollState.unfollowed_zero and shown on the store page). After that — or beyond the cap —
  the history feed finds it when OpenCart's model moves it out of status 0 (history consumers see that row).
- Cursors and the shop's read position are written only when they move: an idle poll writes nothing. It reads
  nothing from the hub either: a process remembers where its last clean poll of a shop left every position, and
  while no store, connection or integration was edited since (core.config_cache; one changed without the ORM is
  seen at the dispatcher's next listing of the shops, the target's stamp) and for a few poll intervals at most
  (`quiet_seconds`), one statement to the shop (opencart.orders.probe) tells whether anything lies past them. A
  process whose memory is behind (another worker polled the shop meanwhile) sees the shop past it and polls in
  full; positions only move forward.
- A poll killed part-way (a worker SIGKILLed) leaves every cursor where its integration's committed work ends: the
  next poll hands over the rest, nothing skipped, nothing handed twice. Two polls of one shop at once (a slow
  poll overlapping the next, the set-up's first poll) cannot both move a position: moves are compare-and-set on
  the position read, and the poll that loses stops (`Superseded`), its handler's work rolled back with the move.

Positions belong to the shop's identity (`shop_key`), not to a Store row's credentials.
"""

from __future__ import annotations

import logging
import random
import time
from contextvars import ContextVar
from dataclasses import dataclass, field

from django.db import OperationalError, connection as hub, transaction

from ocbridge.core import clock, config_cache, registry
from ocbridge.core.jobs import hub_locked

log = logging.getLogger(__name__)

BATCH = 500
MAX_BATCHES = 20  # per poll and kind of read; a longer backlog continues next poll
# A delivery whose BEGIN waited out SQLite's busy timeout (20 s: settings.py) tries again after a jittered pause
# (the waiters of one lock release spread out) while this many seconds have not passed since its first try: about
# three busy timeouts. Only then is it left to the next poll.
LOCKED_PATIENCE = 60.0
LOCKED_PAUSE = (0.2, 1.0)  # seconds, drawn each time


def shop_key(store) -> str:
    """The shop identity a Store's positions belong to: Store.db_key, the key of (host, port, database, prefix),
    so a new password or user keeps every position. The one place the feed says what a shop is."""
    return store.db_key


def consumer_kinds() -> set[str]:
    return set(registry.order_consumers) | set(registry.history_consumers)


@dataclass
class PollSummary:
    orders: int = 0  # new orders handed over (per integration counted once)
    missed: int = 0
    events: int = 0
    failed: list[str] = field(default_factory=list)  # integrations whose handler raised (cursor kept)
    new_orders: list = field(default_factory=list)  # every new order read from the shop (all its stores)


def integrations_of(key: str) -> list:
    """Every consumer integration whose store is on this shop (on or off), stores switched on only."""
    from ocbridge.core.models import Integration

    # By the indexed Store.db_key (what shop_key names): a poll reads its own shop's rows, not the whole hub's.
    rows = (Integration.objects.filter(kind__in=consumer_kinds(), store__enabled=True, store__db_key=key)
            .select_related("store", "connection").order_by("pk"))
    return [i for i in rows if shop_key(i.store) == key]


class Superseded(Exception):
    """Another poll of the same shop moved a position this poll read: this poll's read is stale, it stops."""


def store_stamp(store) -> tuple:
    """What of a Store a poll of its shop depends on, as the dispatcher lists it (core.polls.Target.stamp): a change
    made without the ORM's signals (a queryset update, another tool) is seen by the next poll too."""
    return (store.pk, store.shop_database, store.table_prefix, store.oc_store_id, store.country, store.enabled)


def integration_stamps() -> dict[str, tuple]:
    """Shop key → what of its consumer integrations a poll depends on (which, of which store, on or off), for the
    dispatcher's listing beside `store_stamp`: one query for every shop, so an integration changed without the ORM's
    signals is seen by the next listing (core.polls.REFRESH_SECONDS) rather than when a quiet memory runs out."""
    from ocbridge.core.models import Integration

    found: dict[str, list] = {}
    for key, *row in (Integration.objects.filter(kind__in=consumer_kinds(), store__enabled=True)
                      .values_list("store__db_key", "pk", "kind", "store_id", "enabled")):
        found.setdefault(key, []).append(tuple(row))
    return {key: tuple(sorted(rows)) for key, rows in found.items()}


def poll_shop(key: str, *, store=None, limit: int = BATCH, stamp=None, every: float | None = None) -> PollSummary:
    """One poll of one shop: read once, hand each integration what lies after its cursor. `store` (a Store on
    this shop) lets the shop be read when no integration is set up yet (first poll from the set-up). `stamp`: the
    dispatcher's stamp of the shop's stores and integrations (what this process remembers of the shop holds while
    it holds); `every`: the shop's poll interval (how long that memory is trusted, `_Quiet.valid`)."""
    from ocbridge.opencart import shop_db

    summary = PollSummary()
    quiet = _quiet.pop(key, None) if store is None else None
    try:
        if quiet is not None and quiet.valid(stamp, every):
            shop = shop_db(quiet.store)
            with shop.engine.connect() as conn:
                if quiet.still(shop, conn):
                    _quiet[key] = quiet
                    return summary
                _poll(key, None, limit, summary, conn, stamp)  # something changed: the same connection reads on
        else:
            _poll(key, store, limit, summary, stamp=stamp)
    except Superseded as exc:  # the other poll hands over what this one read
        log.info("order feed: %s", exc)
    return summary


@dataclass
class _Quiet:
    """Where this process's last clean poll of a shop left every position (what a quiet shop is compared with)."""

    store: object
    mark: object  # opencart.orders.PollWatermark
    history_from: int  # the lowest history position a consumer reads from (the shop's, without history consumers)
    generation: int  # core.config_cache.generation() when the poll began
    at: float
    stamp: object  # the dispatcher's stamp of the shop's stores and integrations then

    def valid(self, stamp, every: float | None = None) -> bool:
        return (self.generation == config_cache.generation() and self.stamp == stamp
                and time.monotonic() - self.at < quiet_seconds(every))

    def still(self, shop, conn) -> bool:
        from ocbridge.opencart import orders as oc_orders

        return oc_orders.probe(shop, conn, self.mark).quiet(self.mark, self.history_from, clock.now())


_quiet: dict[str, _Quiet] = {}

QUIET_POLLS = 4  # a shop's quiet memory is trusted for this many of its poll intervals…
QUIET_MAX = 600.0  # …but at least config_cache.MAX_AGE and at most this many seconds


def quiet_seconds(every: float | None) -> float:
    """How long after a full poll the quiet ones may rely on its memory. Edits through the ORM drop it at once
    (core.config_cache), edits without it at the dispatcher's next listing (the stamp); the expiry is only the net
    for what neither sees (positions moved by hand in the hub). It follows the interval: a flat 60 s made every
    other poll of a shop polled every 30 s a full one."""
    if not every:  # not the dispatcher's poll (set-up, tests): no interval known
        return config_cache.MAX_AGE
    return min(QUIET_MAX, max(config_cache.MAX_AGE, QUIET_POLLS * every))


def _poll(key: str, store, limit: int, summary: PollSummary, conn=None, stamp=None) -> None:
    from ocbridge.opencart import shop_db

    generation = config_cache.generation()
    integrations = integrations_of(key)
    if not integrations and store is None:
        return
    on = [i for i in integrations if i.enabled]
    store = (on or integrations)[0].store if integrations else store
    shop = shop_db(store)
    if conn is not None and conn.engine is shop.engine:
        _read(key, shop, store, integrations, on, limit, summary, conn, (generation, stamp))
        return
    with shop.engine.connect() as conn:  # one connection for every read of this poll
        _read(key, shop, store, integrations, on, limit, summary, conn, (generation, stamp))


def _read(key: str, shop, store, integrations, on, limit: int, summary: PollSummary, conn, seen: tuple) -> None:
    from ocbridge.opencart import orders as oc_orders
    from ocbridge.opencart.models import PollState

    state = PollState.objects.filter(store_db_key=key).first()
    if state is None:  # first poll: start at the shop's newest order and history row, not at the first
        start = oc_orders.initial_watermark(shop)
        state, _ = PollState.objects.get_or_create(store_db_key=key, defaults={
            "last_order_id": start.last_order_id, "last_order_product_id": start.last_order_product_id,
            "last_order_option_id": start.last_order_option_id,
            "last_history_id": _latest_history_id(shop), "updated": clock.now()})
    cursors = _cursors(integrations, key, state)
    for i in integrations:  # seen switched off: remember it once, so its return is told apart from a failure
        if not i.enabled and not cursors[i.pk].off:
            _move(cursors[i.pk], off=True)
    prev_order, prev_history = state.last_order_id, state.last_history_id

    # --- orders that arrived while an integration was off: (its cursor, where the shop read was) -------------
    for i in on:
        c = cursors[i.pk]
        if c.off:
            summary.missed += _hand_missed_orders(shop, i, c, prev_order, limit)
            summary.events += _hand_history(shop, i, c, upto=prev_history, missed=True, limit=limit, summary=summary)
            _move(c, off=False)

    # --- new orders: one read for the whole shop ---------------------------------------------------------------
    countries = {i.store.oc_store_id: i.store.country for i in integrations} or {store.oc_store_id: store.country}
    order_takers = [i for i in on if i.kind in registry.order_consumers]
    unfollowed, followed = 0, 0  # status-0 orders beyond the followed cap: one warning a poll
    for _ in range(MAX_BATCHES):
        mark = oc_orders.PollWatermark(last_order_id=state.last_order_id,
                                       last_order_product_id=state.last_order_product_id,
                                       last_order_option_id=state.last_order_option_id,
                                       pending=dict(state.pending_zero or {}))
        result = oc_orders.poll(shop, mark, now=clock.now(), limit=limit, conn=conn)
        from ocbridge.opencart.phone_index import index_orders

        _locked_retry(lambda: index_orders(key, result.orders, country_of_store=countries,  # repeatable
                                           default_country=store.country), "the phone index")
        summary.new_orders += result.orders
        top = result.watermark.last_order_id
        owed = False  # an integration did not take this batch: its status-0 orders that turned up stay followed
        for i in order_takers:
            c = cursors[i.pk]
            if c.last_order_id < prev_order:  # its earlier handover failed: hand the range again, as new
                _hand_range(shop, i, c, prev_order, limit, registry.order_consumers[i.kind], summary)
                if c.last_order_id < prev_order:  # failed again: this batch waits too (its cursor must not skip)
                    owed = True
                    continue
            # New orders after its cursor (a poll killed after this handover and before the shop's position moved
            # reads them again), and every followed status-0 order that turned up.
            mine = [o for o in result.orders if o.store_id == i.store.oc_store_id
                    and (o.order_id > c.last_order_id or str(o.order_id) in mark.pending)]
            if _deliver(i, c, summary, lambda i=i, mine=mine: [registry.order_consumers[i.kind](i, o) for o in mine],
                        reads=_reader(i, orders=mine), empty=not mine, last_order_id=max(top, c.last_order_id)):
                summary.orders += len(mine)
            else:
                owed = True
        # The shop's position moves after the handovers: a poll killed before this line reads the batch again.
        _locked_retry(lambda: _save_state(state, result, keep_pending=mark.pending if owed else None),
                      "the shop's read position")
        unfollowed, followed = unfollowed + result.unfollowed_zero, len(result.watermark.pending)
        prev_order = state.last_order_id
        if not result.more:
            break
    if unfollowed:
        log.warning("shop %s: %d status-0 orders beyond the %d followed by primary key (found later by the "
                    "history feed)", key, unfollowed, followed)
    for i in on:  # history-only consumers follow the shop's order position (they never get orders)
        c = cursors[i.pk]
        if i.kind not in registry.order_consumers and c.last_order_id != state.last_order_id:
            _move(c, last_order_id=state.last_order_id)

    # --- order_history rows: one read from the lowest cursor of the integrations that take them ---------------
    takers = [i for i in on if i.kind in registry.history_consumers]
    if not takers:
        latest = result.history_top
        if latest != state.last_history_id:
            _move(state, last_history_id=latest)
    else:
        for i in takers:
            summary.events += _hand_history(shop, i, cursors[i.pk], upto=None, missed=False, limit=limit,
                                            summary=summary, conn=conn, known_top=result.history_top)
        top = max(cursors[i.pk].last_history_id for i in takers)
        if top > state.last_history_id:
            _move(state, last_history_id=top)

    # --- remember where this poll left everything: the next one of a quiet shop reads nothing else ---------------
    settled = (not summary.failed and not any(cursors[i.pk].off for i in on)
               and all(cursors[i.pk].last_order_id >= state.last_order_id for i in order_takers))
    if settled:
        _quiet[key] = _Quiet(store=store, generation=seen[0], stamp=seen[1], at=time.monotonic(), mark=oc_orders.PollWatermark(
            last_order_id=state.last_order_id, last_order_product_id=state.last_order_product_id,
            last_order_option_id=state.last_order_option_id, pending=dict(state.pending_zero or {})),
            history_from=min((cursors[i.pk].last_history_id for i in takers), default=state.last_history_id))


# --- per-integration handover ------------------------------------------------------------------------------------


def _cursors(integrations, key: str, state) -> dict:
    from ocbridge.opencart.models import FeedCursor

    have = {c.integration_id: c for c in FeedCursor.objects.filter(integration__in=integrations, shop_key=key)}
    for i in integrations:
        if i.pk not in have:  # a new integration starts now, like a first poll
            have[i.pk], _ = FeedCursor.objects.get_or_create(integration=i, shop_key=key, defaults={
                "last_order_id": state.last_order_id, "last_history_id": state.last_history_id,
                "off": not i.enabled, "updated": clock.now()})
    return have


def _deliver(integration, cursor, summary: PollSummary, work, *, reads=None, empty: bool = False, **moves) -> bool:
    """Run the handler and move the cursor in one hub transaction; a failure keeps the cursor (retried).
    Nothing to hand over and the cursor where it is (an idle poll): no transaction at all — on SQLite its BEGIN
    takes the write lock, and a thousand idle shops would queue on it. `reads`: the integration's shop reads for
    this handover (its feed reader), made before the transaction and kept in `prepared()` while it runs."""
    if empty and all(getattr(cursor, k) == v for k, v in moves.items()):
        return True
    token = None
    try:
        token = _prepared.set((reads() if reads is not None and not empty else None) or {})

        def handover():
            with transaction.atomic():
                work()
                _move(cursor, **moves)

        _locked_retry(handover, f"{integration.kind} of store {integration.store_id}")
        return True
    except Superseded:
        raise
    except Exception as exc:  # noqa: BLE001 - one feature's bug must not stop the others; its cursor stays
        if hub_locked(exc):  # waited out LOCKED_PATIENCE: nothing is lost, the next poll hands them over
            log.warning("order feed: hub database still locked for %s of store %s after %.0f s; its orders come "
                        "again next poll", integration.kind, integration.store_id, LOCKED_PATIENCE)
        else:
            log.exception("order feed: %s of store %s failed; its orders come again next poll",
                          integration.kind, integration.store_id)
        cursor.refresh_from_db()
        summary.failed.append(integration.kind)
        return False
    finally:
        if token is not None:
            _prepared.reset(token)


def _reader(integration, **what):
    """The integration's feed reader for one handover (None: its handlers need nothing more from the shop)."""
    fn = registry.feed_readers.get(integration.kind)
    return None if fn is None else (lambda: fn(integration, **what))


_prepared: ContextVar[dict | None] = ContextVar("feed_prepared", default=None)


def prepared() -> dict:
    """What the running handover's feed reader (core.registry.register_feed_reader) read from the shop before the hub
    transaction began; empty outside a handover (a handler called otherwise reads for itself)."""
    return _prepared.get() or {}


def _locked_retry(fn, what: str):
    """fn() (one hub transaction, or one statement), tried again while it finds the hub locked, up to
    LOCKED_PATIENCE seconds from the first try. One warning for it: the lock is the machine's state, not a bug."""
    started, warned = time.monotonic(), False
    while True:
        try:
            return fn()
        except OperationalError as exc:
            pause = random.uniform(*LOCKED_PAUSE)
            if (not hub_locked(exc) or hub.in_atomic_block  # inside a caller's transaction: that one is broken
                    or time.monotonic() - started + pause > LOCKED_PATIENCE):
                raise
            if not warned:
                warned = True
                log.warning("order feed: hub database locked for %s (%s); trying again shortly", what, exc)
            time.sleep(pause)


def _hand_range(shop, integration, cursor, upto: int, limit: int, handler, summary: PollSummary, *,
                missed: bool = False) -> int:
    """Orders in (cursor, upto] of the integration's store, by primary key, in batches (`missed`: to the handler
    of orders that arrived while it was switched off)."""
    from ocbridge.opencart import orders as oc_orders

    handed = 0
    for _ in range(MAX_BATCHES):
        if cursor.last_order_id >= upto:
            break
        batch = oc_orders.orders_in_range(shop, cursor.last_order_id, upto, limit=limit)
        end = batch[-1].order_id if len(batch) >= limit else upto
        mine = [o for o in batch if o.store_id == integration.store.oc_store_id]
        if not _deliver(integration, cursor, summary, lambda: [handler(integration, o) for o in mine],
                        reads=_reader(integration, orders=mine, missed=missed), empty=not mine, last_order_id=end):
            break
        handed += len(mine)
    return handed


def _hand_missed_orders(shop, integration, cursor, upto: int, limit: int) -> int:
    if integration.kind not in registry.order_consumers:
        return 0
    handler = registry.missed_order_handlers.get(integration.kind) or registry.order_consumers[integration.kind]
    return _hand_range(shop, integration, cursor, upto, limit, handler, PollSummary(), missed=True)


def _hand_history(shop, integration, cursor, *, upto: int | None, missed: bool, limit: int,
                  summary: PollSummary, conn=None, known_top: int | None = None) -> int:
    """order_history rows after the cursor (up to `upto` when given), the integration's store only. `known_top`: the
    newest history id this poll has seen (the probe): a cursor already there reads nothing."""
    from ocbridge.opencart import orders as oc_orders

    handler = registry.history_consumers.get(integration.kind)
    if handler is None:
        return 0
    handed = 0
    for _ in range(MAX_BATCHES):
        if upto is not None and cursor.last_history_id >= upto:
            break
        if known_top is not None and cursor.last_history_id >= known_top:
            break
        events = oc_orders.poll_history(shop, cursor.last_history_id, limit=limit, conn=conn)
        if upto is not None:
            events = [e for e in events if e.order_history_id <= upto]
        if not events:
            break
        mine = [e for e in events if e.store_id == integration.store.oc_store_id]
        if not _deliver(integration, cursor, summary, lambda: handler(integration, mine, missed=missed) if mine else None,
                        reads=_reader(integration, events=mine, missed=missed), empty=not mine,
                        last_history_id=events[-1].order_history_id):
            break
        handed += len(mine)
        if len(events) < limit:
            break
    return handed


def _latest_history_id(shop) -> int:
    from ocbridge.opencart.order_create import latest_history_id

    with shop.engine.connect() as conn:
        return latest_history_id(conn, shop)


GUARDED = ("last_order_id", "last_history_id", "off")  # positions a move compares before it sets them


def _move(row, **fields) -> None:
    """Write a cursor or the shop's PollState only when something changed (idle polls write nothing), as a
    compare-and-set on the positions this poll read: another poll's move in between raises Superseded."""
    changed = {k: v for k, v in fields.items() if getattr(row, k) != v}
    if not changed:
        return
    guard = {k: getattr(row, k) for k in GUARDED if k in changed}
    if not type(row).objects.filter(pk=row.pk, **guard).update(**changed, updated=clock.now()):
        raise Superseded(f"{type(row).__name__} {row.pk} was moved by another poll of this shop")
    for k, v in changed.items():
        setattr(row, k, v)


def _save_state(state, result, *, keep_pending: dict | None = None) -> None:
    """Move the shop's read position. `keep_pending`: the followed status-0 orders before this read — those that
    turned up stay followed, so the next poll hands them again to the integration that did not take them."""
    w = result.watermark
    pending = dict(w.pending)
    if keep_pending is not None:
        for o in result.orders:
            if str(o.order_id) in keep_pending:
                pending[str(o.order_id)] = keep_pending[str(o.order_id)]
    fields = {"last_order_id": w.last_order_id, "last_order_product_id": w.last_order_product_id,
              "last_order_option_id": w.last_order_option_id, "pending_zero": pending}
    if result.unfollowed_zero:  # its warning: by the caller, once the move is made (not on each locked retry)
        fields["unfollowed_zero"] = state.unfollowed_zero + result.unfollowed_zero
    _move(state, **fields)
