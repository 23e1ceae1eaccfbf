"""The one write API for a shop: every change ocbridge makes to an OpenCart shop goes through here, journaled.

    change_status(store, order_id, expected=, new=, comment=, notify=, key=)  → WriteResult
    set_product_price(store, product_id, expected=, new=, key=)              → WriteResult
    set_stock(store, {product_id: quantity}, key=)                            → rows changed
    create_order(store, draft, key=)                                          → order_id
    upsert_product(store, ProductDraft, key=, product_id=None)                → ProductWrite
    upsert_category(store, CategoryDraft, key=, category_id=None)             → CategoryWrite
    upsert_option(store, OptionDraft, key=, option_id=None)                   → OptionWrite
    upsert_manufacturer(store, name, key=, manufacturer_id=None, …)           → ManufacturerWrite
    upsert_customer(store, {firstname, …}, customer_group_id=, key=, customer_id=None) → CustomerWrite
    upsert_customer_group(store, {language_id: name}, key=, customer_group_id=None)   → CustomerGroupWrite
    update_address(store, order_id, expected=, address={…}, comment=, key=)   → WriteResult

Each write has a hub journal row (`ShopWrite`: its key, the plan of steps, the steps done, the facts a resumed
step needs). A call with a key already journaled resumes at the first step not done — after a killed worker,
a lost connection or a failed attempt — and a write already finished answers from the journal without touching
the shop. The key is the caller's idempotency key (for a job: the job's key); one decision, one key.

Native API (when the store has one and the version speaks it): OpenCart itself applies stock, totals, mails and
events. Any reply that is not a clear success — a PHP warning printed before the JSON, 2.3's inline mail
failure, a proxy's 502/504 after PHP finished, 4.0's HTML 500 from an after-event, a timeout — is followed by a
re-read of the order's status by primary key: at the target → done, once; still the status we expected → log
in again and send once more; anything else → the shop decided (state "moved").

Database path: OpenCart's model per version (opencart.order_model: status compare-and-set, history with
notify 0, stock rule, totals' confirm/unconfirm, affiliate commission), one transaction on InnoDB, self-checking
steps on MyISAM. No OpenCart mail goes; when notify was asked and the hub has mail, opencart.notices sends the
customer's mail and only then sets notify 1 on that history row (`mark_notified`).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from decimal import Decimal
from typing import NoReturn

import sqlalchemy as sa

from ocbridge.core import clock
from ocbridge.core.errors import RetryableError, TerminalError
from ocbridge.core.http import NetworkError
from ocbridge.opencart import category_model, option_model, order_model, product_model, shop_time
from ocbridge.opencart.category_model import CategoryDraft, CategoryText  # noqa: F401  (part of the write API)
from ocbridge.opencart.option_model import OptionDraft, OptionValueDraft  # noqa: F401  (part of the write API)
from ocbridge.opencart.product_model import Attribute, ProductDraft, Text  # noqa: F401  (part of the write API)

# Tests set this to play a crash: called as crash_hook(step, "before" | "after" | "commit"); raising there
# stops the write exactly between two steps, as a killed worker would.
crash_hook = None


@dataclass
class WriteResult:
    """What a status write did. `written` False with state "moved": the shop changed the order; left alone."""

    written: bool
    current_status: int | None
    state: str = "done"
    via: str = "db"
    repeated: bool = False  # finished by an earlier attempt with the same key
    history_id: int | None = None
    notified: bool = False  # a customer mail went (native API with notify; database path: once the hub's mail went)
    stock: str = ""  # "subtracted", "restored" or ""


def _checkpoint(step: str, when: str) -> None:
    if crash_hook is not None:
        crash_hook(step, when)


def change_status(store, order_id: int, *, expected: int, new: int, comment: str = "", notify: bool = False,
                  key: str) -> WriteResult:
    """Move the order from `expected` to `new` with a history entry, once; see the module docstring."""
    from ocbridge.opencart import shop_db
    from ocbridge.opencart.models import ShopWrite

    if not key:
        raise ValueError("a shop write needs its idempotency key")
    if new <= 0:
        raise TerminalError("opencart", "status_0", "Refusing to set order status 0 (it hides the order).")
    row = _journal(store, key, kind="status", order_id=order_id,
                   request={"expected": expected, "new": new, "comment": comment, "notify": bool(notify)})
    if row.state in (ShopWrite.State.DONE, ShopWrite.State.MOVED):
        return _from_journal(row)
    shop = shop_db(store)
    use_api = bool(store.api_url and store.api_key and shop.version.api_supported)
    try:
        if use_api:
            return _api_status(store, shop, row)
        return _db_status(store, shop, row)
    except TerminalError as exc:
        _save(row, state=ShopWrite.State.FAILED, error=exc.message or str(exc))
        raise
    except RetryableError as exc:
        _save(row, error=exc.message or str(exc))
        raise


# --- journal ------------------------------------------------------------------------------------------------------


def _journal(store, key: str, *, kind: str, order_id: int | None, request: dict):
    from ocbridge.opencart.models import ShopWrite

    now = clock.now()
    row, created = ShopWrite.objects.get_or_create(key=key, defaults={
        "store": store, "kind": kind, "order_id": order_id, "request": request, "created": now, "updated": now})
    if not created and ((row.kind, row.store_id) != (kind, store.pk)
                        or (kind == "status" and row.order_id != order_id)):
        raise ValueError(f"shop write key {key!r} already belongs to another write")
    if row.state == ShopWrite.State.FAILED:  # asked again (a person's retry, fixed credentials): try again
        row.state = ShopWrite.State.RUNNING
    row.attempts += 1
    _save(row, attempts=row.attempts, state=row.state)
    return row


def _begin(store, key: str, kind: str, request: dict):
    """Open the journal row of a create-or-update write (the upsert_* writes), once per key: returns (row, the
    `<kind>_id` the write made when an earlier attempt with this key finished it, else None — the caller then
    answers with it, touching nothing). A row an earlier attempt left FAILED or half-written is taken up again."""
    from ocbridge.opencart.models import ShopWrite

    if not key:
        raise ValueError("a shop write needs its idempotency key")
    row = _journal(store, key, kind=kind, order_id=None, request=request)
    return row, (int(row.marks[f"{kind}_id"]) if row.state == ShopWrite.State.DONE else None)


def _refuse(row, exc: TerminalError) -> NoReturn:
    """What the shop refuses (the admin form's checks, an unknown record): the journal row is FAILED with the
    reason (a person's retry with the same key tries again) and the caller gets the error."""
    from ocbridge.opencart.models import ShopWrite

    _save(row, state=ShopWrite.State.FAILED, error=exc.message)
    raise exc


def _save(row, **fields) -> None:
    """Journal progress under the running job's fenced claim: a run that stalled and was taken over gets
    ClaimLost here, before its next step touches the shop, so two runs never interleave one write's steps."""
    from ocbridge.core.jobs import fenced

    for name, value in fields.items():
        setattr(row, name, value)
    fields = {"steps_done": row.steps_done, "marks": row.marks, "plan": row.plan, "via": row.via, **fields,
              "updated": clock.now()}
    with fenced():
        type(row).objects.filter(pk=row.pk).update(**fields)


def _from_journal(row) -> WriteResult:
    done = row.state == "done"
    return WriteResult(done, row.marks.get("current", row.request.get("new") if done else None), state=row.state,
                       via=row.via or "db", repeated=True, history_id=row.marks.get("history_id"),
                       notified=bool(row.marks.get("notified")), stock=row.marks.get("stock", ""))


def _finish(row, state: str, current: int | None, **marks) -> WriteResult:
    row.marks.update(marks, current=current)
    _save(row, state=state, error="")
    return WriteResult(state == "done", current, state=state, via=row.via, history_id=row.marks.get("history_id"),
                       notified=bool(row.marks.get("notified")), stock=row.marks.get("stock", ""))


# --- native API ---------------------------------------------------------------------------------------------------


def _status_of(shop, order_id: int) -> int | None:
    from ocbridge.opencart import orders as oc_orders

    return oc_orders.order_status(shop, order_id)


def _api_status(store, shop, row) -> WriteResult:
    from ocbridge.opencart import api_client, statuses

    req = row.request
    order_id, expected, new = row.order_id, req["expected"], req["new"]
    row.via, row.plan = "api", ["api_history"]
    current = _status_of(shop, order_id)
    if current is None:
        raise TerminalError("opencart", "unknown_order", f"Order {order_id} does not exist.")
    if row.marks.get("sent") and current == new:
        return _finish(row, "done", current)  # an earlier attempt got through; its reply was lost
    if current != expected:
        return _finish(row, "moved", current)
    with shop.engine.connect() as conn:
        if not statuses.status_exists(conn, shop, new):
            raise TerminalError("opencart", "unknown_status", f"Order status {new} does not exist in this shop.")
    client = api_client(store, shop)
    why = ""
    for attempt in (1, 2):
        row.marks["sent"] = True
        _save(row)
        _checkpoint("api_history", "before")
        try:
            reply = client.add_history(order_id, order_status_id=new, comment=req["comment"], notify=req["notify"],
                                       key=row.key, fresh_login=attempt == 2)
            ok, why = reply.success, reply.message
        except NetworkError as exc:  # timeout, reset, 5xx: the shop may have written all the same
            ok, why = False, exc.message or str(exc)
        _checkpoint("api_history", "after")
        if ok:
            row.steps_done = ["api_history"]
            return _finish(row, "done", new, notified=req["notify"])
        current = _status_of(shop, order_id)  # not a clear success: what does the shop say?
        if current == new:
            row.steps_done = ["api_history"]
            return _finish(row, "done", current, notified=req["notify"])
        if current != expected:
            return _finish(row, "moved", current)
    raise RetryableError("opencart", "not_written", f"Not written to the shop: {why}")


# --- database path ------------------------------------------------------------------------------------------------


def _db_status(store, shop, row) -> WriteResult:
    from ocbridge.opencart import statuses

    req = row.request
    order_id, expected, new = row.order_id, req["expected"], req["new"]
    row.via = "db"
    o = shop.t("order")
    with shop.engine.connect() as conn:
        if not statuses.status_exists(conn, shop, new):
            raise TerminalError("opencart-db", "unknown_status", f"Order status {new} does not exist in this shop.")
        order = conn.execute(sa.select(o.c.order_status_id, o.c.store_id).where(o.c.order_id == order_id)).first()
        if order is None:
            raise TerminalError("opencart-db", "unknown_order", f"Order {order_id} does not exist.")
        if "history_floor" not in row.marks:
            h = shop.t("order_history")
            row.marks["history_floor"] = int(conn.execute(sa.select(sa.func.max(h.c.order_history_id))).scalar() or 0)
    cfg = statuses.read_settings(shop, order.store_id)
    if not row.plan:
        row.plan = list(order_model.steps_for(shop.layout))
    from ocbridge.opencart.history import escape_like_opencart

    ch = order_model.Change(order_id, old=expected, new=new, settings=cfg, marks=row.marks,
                            comment=escape_like_opencart(req["comment"], utf8mb3=shop.layout in ("2.3", "3.0")),
                            fraud_status_id=cfg.number("config_fraud_status_id"),
                            affiliate_auto=bool(cfg.number("config_affiliate_auto")))
    if order.order_status_id != expected and not row.marks.get("status_sent"):
        return _moved(shop, row, ch, order.order_status_id)
    stock = "subtracted" if ch.entering else ("restored" if ch.leaving else "")
    transactional = shop.version.innodb or not shop.is_mysql
    try:
        if transactional:
            row.marks["status_sent"] = True
            _save(row)
            with shop.engine.begin() as conn:
                now_sql = _now(conn, shop, cfg.store_id)
                for step in row.plan:
                    _checkpoint(step, "before")
                    order_model.run_step(conn, shop, step, ch, now_sql)
                    _checkpoint(step, "after")
            _checkpoint("commit", "after")
            row.steps_done = list(row.plan)
        else:
            for step in row.plan:
                if step in row.steps_done:
                    continue
                _checkpoint(step, "before")
                if step == "status_stock" and not row.marks.get("status_sent"):
                    row.marks["status_sent"] = True
                    _save(row)
                with shop.engine.begin() as conn:
                    order_model.run_step(conn, shop, step, ch, _now(conn, shop, cfg.store_id))
                _checkpoint(step, "after")
                row.steps_done = row.steps_done + [step]
                _save(row)
    except order_model.Moved as exc:
        return _moved(shop, row, ch, exc.current)
    if req.get("notify"):
        from ocbridge.opencart import notices

        notices.queue(store, row.key)  # the hub's mail; notify becomes 1 once it went (mark_notified)
    return _finish(row, "done", ch.target, stock=stock, target=ch.target)


def mark_notified(row) -> None:
    """The customer's mail for this status write went: say so on the history row it created (notify = 1)."""
    from ocbridge.opencart import shop_db

    hid = row.marks.get("history_id")
    if row.marks.get("notified") or not hid:
        return
    shop = shop_db(row.store)
    h = shop.t("order_history")
    with shop.engine.begin() as conn:
        conn.execute(sa.update(h).where(h.c.order_history_id == hid, h.c.order_id == row.order_id).values(notify=1))
    row.marks["notified"] = True
    _save(row)


def _moved(shop, row, ch, current) -> WriteResult:
    """The shop changed the order before our status landed: take back what earlier steps of ours wrote."""
    if "totals_confirm" in row.steps_done or "affiliate_add" in row.steps_done:
        with shop.engine.begin() as conn:
            order_model.undo_confirm(conn, shop, ch)
    return _finish(row, "moved", current)


# OpenCart's admin (which saves products, categories, customers) loads store 0's settings only, whichever store a
# record belongs to, and syncs its session zone to that config_timezone: admin/controller/startup/startup.php
# (3.0.3.7+: `WHERE store_id = '0'`), admin/controller/startup/setting.php (4.0: getSettings(0)).
ADMIN_STORE = 0


def _now(conn: sa.Connection, db, store_id: int):
    """NOW() as OpenCart stamps it for a request of `store_id` (opencart.shop_time: config_timezone from 3.0.3.7, UTC
    when 4.0 has none, the server's zone for 2.3) — the order's store for checkout and history writes, ADMIN_STORE for
    what the admin saves: the session's zone set first, every time — a pooled connection keeps the last."""
    zone = shop_time.write_zone(db, store_id)
    if db.is_mysql:
        conn.execute(sa.text("SET time_zone = :tz"), {"tz": shop_time.sql_offset(zone)})
        return sa.func.now()
    # SQLite (demo shop): no session time zone; compute the shop's local wall time ourselves.
    return shop_time.shop_now(db, store_id).replace(microsecond=0)


# --- delivery address (first needed by COD confirmation: the customer corrects it from a link) --------------------

ADDRESS_FIELDS = ("shipping_address_1", "shipping_address_2", "shipping_city", "shipping_postcode")


def update_address(store, order_id: int, *, expected: int, address: dict[str, str], comment: str,
                   key: str) -> WriteResult:
    """Correct the order's delivery address once, only while the order is still at status `expected`.

    As OpenCart's model edits an order (checkout/order editOrder: the `shipping_*` columns and date_modified; the
    native API has no address-only call, so this is always the database path), then a history row at the
    unchanged status, notify 0, whose comment names the old address (`{old}` in `comment` is replaced by it, as
    the shop had it when the write began). Text is stored HTML-escaped as OpenCart stores input. Two steps, each
    telling from the shop whether it happened: "address" (compare-and-set on the status; a re-read finding the
    new fields = done, another status = "moved", nothing written) and "history" (a row after the journal's floor
    with this comment = done). One transaction on InnoDB; journaled steps on MyISAM.
    """
    from ocbridge.opencart import shop_db, statuses
    from ocbridge.opencart.history import escape_like_opencart
    from ocbridge.opencart.models import ShopWrite

    if not key:
        raise ValueError("a shop write needs its idempotency key")
    unknown = set(address) - set(ADDRESS_FIELDS)
    if unknown:
        raise ValueError(f"not address fields: {sorted(unknown)}")
    row = _journal(store, key, kind="address", order_id=order_id,
                   request={"expected": expected, "address": address, "comment": comment})
    if row.state in (ShopWrite.State.DONE, ShopWrite.State.MOVED):
        return _from_journal(row)
    shop = shop_db(store)
    row.via = "db"
    mb3 = shop.layout in ("2.3", "3.0")
    new = {k: escape_like_opencart(v, utf8mb3=mb3) for k, v in address.items()}
    o, h = shop.t("order"), shop.t("order_history")
    with shop.engine.connect() as conn:
        order = conn.execute(sa.select(o.c.order_status_id, o.c.store_id, *[o.c[k] for k in address])
                             .where(o.c.order_id == order_id)).first()
        if order is None:
            _save(row, state=ShopWrite.State.FAILED, error=f"order {order_id} does not exist")
            raise TerminalError("opencart-db", "unknown_order", f"Order {order_id} does not exist.")
        if "old" not in row.marks:  # as the shop had it before our first step
            row.marks["old"] = {k: order._mapping[k] or "" for k in address}
            row.marks["history_floor"] = int(conn.execute(sa.select(sa.func.max(h.c.order_history_id))).scalar() or 0)
            _save(row)
    if order.order_status_id != expected and "address" not in row.steps_done:
        return _finish(row, "moved", order.order_status_id)
    old_text = ", ".join(html.unescape(v) for v in row.marks["old"].values() if v)
    note = escape_like_opencart(comment.replace("{old}", old_text or "—"), utf8mb3=mb3)
    cfg = statuses.read_settings(shop, order.store_id)

    def address_step(conn) -> bool:
        hit = conn.execute(sa.update(o).where(o.c.order_id == order_id, o.c.order_status_id == expected)
                           .values(**new, date_modified=_now(conn, shop, cfg.store_id))).rowcount
        if hit:
            return True
        now = conn.execute(sa.select(*[o.c[k] for k in new]).where(o.c.order_id == order_id)).first()
        return now is not None and dict(now._mapping) == new  # an earlier run of this write landed it

    def history_step(conn) -> None:
        found = conn.execute(sa.select(h.c.order_history_id).where(
            h.c.order_history_id > int(row.marks["history_floor"]), h.c.order_id == order_id,
            h.c.comment == note)).scalar()
        if found is None:
            found = conn.execute(sa.insert(h).values(order_id=order_id, order_status_id=expected, notify=0,
                                                     comment=note, date_added=_now(conn, shop, cfg.store_id))
                                 ).inserted_primary_key[0]
        row.marks["history_id"] = int(found)

    if shop.version.innodb or not shop.is_mysql:
        with shop.engine.begin() as conn:
            _checkpoint("address", "before")
            landed = address_step(conn)  # nothing written when it did not land
            if landed:
                _checkpoint("address", "after")
                history_step(conn)
                _checkpoint("history", "after")
        if not landed:
            return _finish(row, "moved", _status_of(shop, order_id))
        row.steps_done = ["address", "history"]
    else:
        if "address" not in row.steps_done:
            with shop.engine.begin() as conn:
                _checkpoint("address", "before")
                if not address_step(conn):
                    return _finish(row, "moved", _status_of(shop, order_id))
            _checkpoint("address", "after")
            _save(row, steps_done=row.steps_done + ["address"])
        with shop.engine.begin() as conn:
            history_step(conn)
        _checkpoint("history", "after")
        row.steps_done = row.steps_done + ["history"]
    return _finish(row, "done", expected, old=row.marks["old"])


# --- product price (first needed by Ozon: prices of products the owner lets Ozon own) -------------------------


def set_product_price(store, product_id: int, *, expected: Decimal, new: Decimal, key: str) -> WriteResult:
    """Set a product's base price from `expected` to `new`, once: one compare-and-set UPDATE (safe on MyISAM;
    a killed run re-reads: at `new` = done, still `expected` = write, else the shop changed it = "moved").
    OpenCart's admin saves the price the same way (a plain column; no events on the database path)."""
    from ocbridge.opencart import shop_db

    if not key:
        raise ValueError("a shop write needs its idempotency key")
    row = _journal(store, key, kind="price", order_id=None,
                   request={"product_id": int(product_id), "expected": str(expected), "new": str(new)})
    if row.state in ("done", "moved"):
        return WriteResult(row.state == "done", None, state=row.state, via="db", repeated=True)
    shop = shop_db(store)
    p = shop.t("product")
    exp, target = Decimal(str(expected)), Decimal(str(new))
    with shop.engine.begin() as conn:
        _checkpoint("price", "before")
        hit = conn.execute(sa.update(p).where(p.c.product_id == int(product_id), p.c.price == exp)
                           .values(price=target)).rowcount
        _checkpoint("price", "after")
        now = conn.execute(sa.select(p.c.price).where(p.c.product_id == int(product_id))).scalar()
    if now is None:
        _save(row, state="failed", error=f"product {product_id} does not exist")
        raise TerminalError("opencart-db", "unknown_product", f"Product {product_id} does not exist.")
    row.via = "db"
    state = "done" if hit or Decimal(str(now)) == target else "moved"
    row.marks.update(price=str(now))
    _save(row, state=state, error="")
    return WriteResult(state == "done", None, state=state, via="db")


# --- product stock (a fulfilment service is the store's stock source: DESIGN "One stock source per store") ------


def set_stock(store, quantities: dict[int, int], *, key: str) -> int:
    """Set each product's `quantity` (and `date_modified`) as OpenCart's admin product form does, where it differs;
    returns how many rows changed. OpenCart keeps no SKU on option values, so stock is product-level. Each UPDATE
    sets a value (never adds), so a resumed write simply runs again; a finished one answers from the journal."""
    from ocbridge.opencart import shop_db

    if not key:
        raise ValueError("a shop write needs its idempotency key")
    if not quantities:
        return 0
    row = _journal(store, key, kind="stock", order_id=None,
                   request={"quantities": {str(pid): int(q) for pid, q in quantities.items()}})
    if row.state == "done":
        return int(row.marks.get("written", 0))
    wanted = {int(pid): q for pid, q in row.request["quantities"].items()}  # the journaled request, on resume too
    shop = shop_db(store)
    p = shop.t("product")
    changed = 0
    with shop.engine.begin() as conn:
        now = _now(conn, shop, ADMIN_STORE)
        current = dict(conn.execute(sa.select(p.c.product_id, p.c.quantity).where(p.c.product_id.in_(list(wanted)))).all())
        for pid, qty in wanted.items():
            if pid in current and current[pid] != qty:
                _checkpoint("stock", "before")
                changed += conn.execute(sa.update(p).where(p.c.product_id == pid)
                                        .values(quantity=qty, date_modified=now)).rowcount
    row.via = "db"
    row.marks.update(written=changed)
    _save(row, state="done", error="")
    return changed


# --- creating an order (marketplace channels) ----------------------------------------------------------------------

ORDER_STEPS = ("order", "lines", "totals", "status")


def created_order(store, key: str) -> int | None | bool:
    """The order a create_order with this key finished (its id); None if unfinished (the retry of create_order
    finishes it); False if no such write was journaled."""
    from ocbridge.opencart.models import ShopWrite

    row = ShopWrite.objects.filter(key=key, store=store, kind="order").first()
    if row is None:
        return False
    return int(row.order_id) if row.state == ShopWrite.State.DONE else None


def create_order(store, draft: dict, *, key: str) -> int:
    """Create an order as OpenCart's checkout leaves it (opencart.order_create), once per key; returns its id.

    Steps: the order row at status 0, its lines, its totals, then its first status through the status write
    (history, stock rule). On InnoDB the first three are one transaction. A retry finds the order row it made
    (by its comment, after the highest order id seen when the write began) and adds only the missing rows, so a
    crash leaves the order finished by the retry — or at status 0 ("missing order", hidden from admin lists)
    while the journal shows it unfinished — never half-made and taken as imported.
    """
    from ocbridge.opencart import order_create, shop_db, statuses
    from ocbridge.opencart.models import ShopWrite

    if not key:
        raise ValueError("a shop write needs its idempotency key")
    row = _journal(store, key, kind="order", order_id=None, request={"ref": draft.get("comment", "")})
    if row.state == ShopWrite.State.DONE:
        return int(row.order_id)
    shop = shop_db(store)
    row.via, row.plan = "db", list(ORDER_STEPS)
    settings = statuses.read_settings(shop, store.oc_store_id)
    o, op, ot = shop.t("order"), shop.t("order_product"), shop.t("order_total")
    with shop.engine.begin() as conn:  # one transaction on InnoDB; statement by statement on MyISAM
        if row.order_id is not None and conn.execute(sa.select(o.c.order_id).where(o.c.order_id == row.order_id)).first() is None:
            row.order_id, row.steps_done = None, []  # InnoDB rolled back the attempt that noted it: start over
            _save(row, order_id=None)
        if "floor" not in row.marks:
            row.marks["floor"] = order_create.max_order_id(conn, shop)
            _save(row)
        if row.order_id is None:
            found = order_create.find_order_by_comment(conn, shop, draft.get("comment", ""), row.marks["floor"],
                                                       finished=False)
            if found is None:
                _checkpoint("order", "before")
                now = _now(conn, shop, settings.store_id)
                local = now if not isinstance(now, sa.sql.ClauseElement) else conn.execute(sa.select(now)).scalar()
                info = order_create.store_row(conn, shop, settings, store_name=store.name, store_url=store.api_url or "")
                country = order_create.find_country(conn, shop, draft.get("country_iso", ""))
                found = int(conn.execute(sa.insert(o).values(
                    **order_create.order_row(shop, draft, now=local, store=info, country=country))).inserted_primary_key[0])
                _checkpoint("order", "after")
            row.order_id = found
            row.steps_done = ["order"]
            _save(row, order_id=found)
        order_id = int(row.order_id)
        if "lines" not in row.steps_done:
            have = conn.execute(sa.select(sa.func.count()).select_from(op).where(op.c.order_id == order_id)).scalar()
            for line in order_create.line_rows(conn, shop, draft, order_id)[int(have or 0):]:
                _checkpoint("lines", "before")
                conn.execute(sa.insert(op).values(**line))
            _checkpoint("lines", "after")
            row.steps_done = row.steps_done + ["lines"]
            _save(row)
        if "totals" not in row.steps_done:
            have = {r.code for r in conn.execute(sa.select(ot.c.code).where(ot.c.order_id == order_id))}
            for total in order_create.total_rows(shop, draft, order_id):
                if total["code"] not in have:
                    conn.execute(sa.insert(ot).values(**total))
            _checkpoint("totals", "after")
            row.steps_done = row.steps_done + ["totals"]
            _save(row)
    if "status" not in row.steps_done:
        try:
            result = change_status(store, order_id, expected=0, new=int(draft["order_status_id"]),
                                   comment=draft.get("history_comment", ""), key=f"{key}:status")
        except TerminalError as exc:  # e.g. a status the shop does not have: the order stays at 0, said so here too
            _refuse(row, exc)
        if not result.written:  # someone moved our half-made order: leave it to them, say so
            _save(row, state=ShopWrite.State.MOVED, error=f"order {order_id} changed in the shop while being created")
            return order_id
        row.steps_done = row.steps_done + ["status"]
    _finish(row, "done", int(draft["order_status_id"]))
    return order_id


# --- creating or updating a product (marketplace and ERP catalogues) ----------------------------------------------


@dataclass
class ProductWrite:
    product_id: int
    created: bool
    repeated: bool = False  # finished by an earlier attempt with the same key


def upsert_product(store, draft: ProductDraft, *, key: str, product_id: int | None = None) -> ProductWrite:
    """Create a product (product_id None) or update one, as OpenCart's admin saves it (opencart.product_model),
    once per key. Steps: refs (manufacturer and attributes found by name or created), the product row, then its
    descriptions in every shop language, stores, categories, attributes and images — each a replace of the
    product's own rows. One transaction on InnoDB; on MyISAM each step is journaled, and a retry of a create
    finds the product row it made (our model, above the highest product id seen when the write began), so a
    crash never leaves two products or one without its descriptions once the retry has run.
    A draft the admin form would refuse (no model, no name, a price out of range) is refused with the reason."""
    from ocbridge.opencart import shop_db

    creating = product_id is None
    if creating and draft.store_ids is None:
        draft.store_ids = [int(store.oc_store_id or 0)]
    row, made = _begin(store, key, "product", {"product_id": product_id, "draft": draft.to_json()})
    if made is not None:
        return ProductWrite(made, creating, repeated=True)
    draft = ProductDraft.from_json(row.request["draft"])  # the journaled request, on resume too
    try:
        product_model.check(draft, creating=creating)
    except TerminalError as exc:
        _refuse(row, exc)
    shop = shop_db(store)
    if product_id is not None:
        row.marks["product_id"] = int(product_id)
    _run_catalog_steps(store, shop, row, product_model.STEPS, product_model.max_product_id if creating else None,
                       lambda conn, cfg, step, langs, preferred: _product_step(conn, shop, cfg, row, step, draft,
                                                                               langs, preferred))
    return ProductWrite(int(row.marks["product_id"]), creating)


def _run_catalog_steps(store, shop, row, steps, max_id, run_step) -> None:
    """Run a catalogue write's steps: one transaction on InnoDB; on MyISAM step by step, each journaled, so a
    retry resumes at the first step not done. `max_id` (creates only) notes the highest id before the write, so a
    retry finds a row an interrupted create made. run_step(conn, settings, step, languages, preferred).
    A step the shop refuses (the record it updates is gone, a value not of its option, an attribute without a name)
    ends the journal row FAILED with the reason; one that may pass on retry keeps it running with its error (as
    change_status does), so the owner's "not written" list shows it once it has failed for a while."""
    try:
        _catalog_steps(store, shop, row, steps, max_id, run_step)
    except TerminalError as exc:
        _refuse(row, exc)
    except RetryableError as exc:
        _save(row, error=exc.message or str(exc))
        raise


def _catalog_steps(store, shop, row, steps, max_id, run_step) -> None:
    from ocbridge.opencart import statuses
    from ocbridge.opencart.models import ShopWrite

    cfg = statuses.read_settings(shop, store.oc_store_id)
    row.via, row.plan = "db", list(steps)
    transactional = shop.version.innodb or not shop.is_mysql
    with shop.engine.connect() as conn:
        languages = product_model.languages(conn, shop)
        codes = statuses.languages(shop)
        preferred = next((i for i, c in codes.items() if c == cfg.language_code), None)
        if max_id is not None and "floor" not in row.marks:
            row.marks["floor"] = max_id(conn, shop)
            _save(row)
    if transactional:
        with shop.engine.begin() as conn:
            for step in row.plan:
                run_step(conn, cfg, step, languages, preferred)
        _checkpoint("commit", "after")
    else:
        for step in row.plan:
            if step in row.steps_done:
                continue
            with shop.engine.begin() as conn:
                run_step(conn, cfg, step, languages, preferred)
            row.steps_done = row.steps_done + [step]
            _save(row)
    row.steps_done = list(row.plan)
    _save(row, state=ShopWrite.State.DONE, error="")


def _product_step(conn, shop, cfg, row, step: str, draft: ProductDraft, languages, preferred) -> None:
    _checkpoint(step, "before")
    marks = row.marks
    if step == "refs":
        stores = draft.store_ids if draft.store_ids is not None else [0]
        if draft.manufacturer is not None:
            product_model.manufacturer_id(conn, shop, draft.manufacturer, stores, marks)
        if draft.attributes is not None:
            marks["attribute_ids"] = product_model.attribute_ids(conn, shop, draft.attributes, draft.attribute_group,
                                                                 languages, preferred, marks)
    elif step == "product":
        p = shop.t("product")
        now = _now(conn, shop, ADMIN_STORE)
        pid = marks.get("product_id")
        if pid is None:
            pid = product_model.find_created(conn, shop, draft.model, marks["floor"])
        if pid is None:
            pid = int(conn.execute(sa.insert(p).values(
                **product_model.new_product_row(shop, draft, marks, cfg, now))).inserted_primary_key[0])
            marks["product_id"] = pid
            _checkpoint(step, "after")
            if not (shop.version.innodb or not shop.is_mysql):
                _save(row)  # MyISAM: the row is there now; a crash before the next step must not make a second
            return
        marks["product_id"] = int(pid)
        hit = conn.execute(sa.update(p).where(p.c.product_id == int(pid)).values(
            **product_model.product_columns(shop, draft, marks), date_modified=now)).rowcount
        if not hit and not conn.execute(sa.select(p.c.product_id).where(p.c.product_id == int(pid))).first():
            raise TerminalError("opencart-db", "unknown_product", f"Product {pid} does not exist.")
    else:
        if step == "options" and draft.options is not None and "option_ids" not in marks:
            marks["option_ids"] = product_model.option_ids(conn, shop, int(marks["product_id"]))
            if not (shop.version.innodb or not shop.is_mysql):
                _save(row)  # MyISAM: the ids survive a crash between the step's delete and its inserts
        product_model.run_step(conn, shop, step, int(marks["product_id"]), draft, marks, languages, preferred)
    _checkpoint(step, "after")


# --- creating or updating a category (CRM and ERP catalogues) ------------------------------------------------------


@dataclass
class CategoryWrite:
    category_id: int
    created: bool
    repeated: bool = False  # finished by an earlier attempt with the same key


def upsert_category(store, draft: CategoryDraft, *, key: str, category_id: int | None = None) -> CategoryWrite:
    """Create a category (category_id None) or update one, as OpenCart's admin saves it (opencart.category_model),
    once per key. Steps: the category row, its descriptions in every shop language, its stores, its path (and the
    paths of the categories below it). One transaction on InnoDB; on MyISAM each step is journaled and a retry of
    a create finds the category row it made, so a crash never leaves two categories or one without its texts once
    the retry has run. A draft the admin form would refuse (no name, a parent that is itself or below it, a parent
    that does not exist) is refused with the reason."""
    from ocbridge.opencart import shop_db

    creating = category_id is None
    if creating and draft.store_ids is None:
        draft.store_ids = [int(store.oc_store_id or 0)]
    row, made = _begin(store, key, "category", {"category_id": category_id, "draft": draft.to_json()})
    if made is not None:
        return CategoryWrite(made, creating, repeated=True)
    draft = CategoryDraft.from_json(row.request["draft"])  # the journaled request, on resume too
    shop = shop_db(store)
    c = shop.t("category")
    try:
        category_model.check(draft, creating=creating)
        with shop.engine.connect() as conn:
            if category_id is not None and conn.execute(
                    sa.select(c.c.category_id).where(c.c.category_id == int(category_id))).first() is None:
                raise TerminalError("opencart-db", "unknown_category", f"Category {category_id} does not exist.")
            if draft.parent_id is not None:
                category_model.check_parent(conn, shop, category_id, int(draft.parent_id))
    except TerminalError as exc:
        _refuse(row, exc)
    if category_id is not None:
        row.marks["category_id"] = int(category_id)
    _run_catalog_steps(store, shop, row, category_model.STEPS, category_model.max_category_id if creating else None,
                       lambda conn, cfg, step, langs, preferred: _category_step(conn, shop, cfg, row, step, draft,
                                                                                langs, preferred))
    return CategoryWrite(int(row.marks["category_id"]), creating)


def _category_step(conn, shop, cfg, row, step: str, draft: CategoryDraft, languages, preferred) -> None:
    _checkpoint(step, "before")
    marks = row.marks
    if step == "category":
        c = shop.t("category")
        now = _now(conn, shop, ADMIN_STORE)
        cid = marks.get("category_id")
        if cid is None:
            cid = category_model.find_created(conn, shop, draft, marks["floor"])
        if cid is None:
            marks["category_id"] = int(conn.execute(sa.insert(c).values(
                **category_model.new_category_row(shop, draft, now))).inserted_primary_key[0])
            _checkpoint(step, "after")
            if not (shop.version.innodb or not shop.is_mysql):
                _save(row)  # MyISAM: the row is there now; a crash before the next step must not make a second
            return
        marks["category_id"] = int(cid)
        conn.execute(sa.update(c).where(c.c.category_id == int(cid)).values(
            **category_model.category_columns(shop, draft), date_modified=now))
    else:
        category_model.run_step(conn, shop, step, int(marks["category_id"]), draft, languages, preferred)
    _checkpoint(step, "after")


# --- creating or updating an option and its values (CRM catalogues) ----------------------------------------------


@dataclass
class OptionWrite:
    option_id: int
    created: bool
    value_ids: list[int]  # the draft's values, in its order
    repeated: bool = False  # finished by an earlier attempt with the same key


def upsert_option(store, draft: OptionDraft, *, key: str, option_id: int | None = None) -> OptionWrite:
    """Create an option (option_id None) or update one, with its values, as OpenCart's admin saves them
    (opencart.option_model), once per key. One transaction on InnoDB; on MyISAM each step is journaled, a retry
    of a create finds the option row it made and values are found by name, so a crash never leaves two options or
    two values of one name once the retry has run. A draft the admin form would refuse (a name of 0 or over 128
    characters, a select without values, an unknown type) is refused with the reason."""
    from ocbridge.opencart import shop_db

    creating = option_id is None
    row, made = _begin(store, key, "option", {"option_id": option_id, "draft": draft.to_json()})
    if made is not None:
        return OptionWrite(made, creating, list(row.marks.get("value_ids") or []), repeated=True)
    draft = OptionDraft.from_json(row.request["draft"])  # the journaled request, on resume too
    shop = shop_db(store)
    o = shop.t("option")
    try:
        option_model.check(draft, creating=creating)
        if option_id is not None:
            with shop.engine.connect() as conn:
                if conn.execute(sa.select(o.c.option_id).where(o.c.option_id == int(option_id))).first() is None:
                    raise TerminalError("opencart-db", "unknown_option", f"Option {option_id} does not exist.")
    except TerminalError as exc:
        _refuse(row, exc)
    if option_id is not None:
        row.marks["option_id"] = int(option_id)
    _run_catalog_steps(store, shop, row, option_model.STEPS, option_model.max_option_id if creating else None,
                       lambda conn, cfg, step, langs, preferred: _option_step(conn, shop, row, step, draft,
                                                                              langs, preferred))
    return OptionWrite(int(row.marks["option_id"]), creating, list(row.marks.get("value_ids") or []))


def _option_step(conn, shop, row, step: str, draft: OptionDraft, languages, preferred) -> None:
    _checkpoint(step, "before")
    marks = row.marks
    if step == "option":
        o = shop.t("option")
        oid = marks.get("option_id")
        if oid is None:
            oid = option_model.find_created(conn, shop, draft, marks["floor"])
        if oid is None:
            marks["option_id"] = int(conn.execute(sa.insert(o).values(**option_model.new_option_row(draft)))
                                     .inserted_primary_key[0])
            _checkpoint(step, "after")
            if not (shop.version.innodb or not shop.is_mysql):
                _save(row)  # MyISAM: the row is there now; a crash before the next step must not make a second
            return
        marks["option_id"] = int(oid)
        cols = option_model.option_columns(draft)
        if cols:
            conn.execute(sa.update(o).where(o.c.option_id == int(oid)).values(**cols))
    else:
        option_model.run_step(conn, shop, step, int(marks["option_id"]), draft, languages, preferred, marks)
    _checkpoint(step, "after")


# --- creating or updating a manufacturer (OpenCart's "brand") ------------------------------------------------------


@dataclass
class ManufacturerWrite:
    manufacturer_id: int
    created: bool
    repeated: bool = False


def upsert_manufacturer(store, name: str, *, key: str, manufacturer_id: int | None = None,
                        sort_order: int | None = None, image: str | None = None,
                        store_ids: list[int] | None = None) -> ManufacturerWrite:
    """Create a manufacturer or update one, as the admin's manufacturer form saves it (admin/model/catalog/
    manufacturer.php: the row, then manufacturer_to_store replaced; 2.3.0.2–4.0.2.3 alike; SEO keywords left to
    the owner), once per key. One transaction (MyISAM: the row, then its stores; a retry finds a row it made by
    name above the highest id seen when the write began). A name the form refuses (1..64 characters) is refused."""
    from ocbridge.opencart import shop_db
    from ocbridge.opencart.models import ShopWrite

    creating = manufacturer_id is None
    if creating and store_ids is None:
        store_ids = [int(store.oc_store_id or 0)]
    row, made = _begin(store, key, "manufacturer", {
        "manufacturer_id": manufacturer_id, "name": name, "sort_order": sort_order, "image": image,
        "store_ids": store_ids})
    if made is not None:
        return ManufacturerWrite(made, creating, repeated=True)
    req = row.request
    name = (req["name"] or "").strip()
    if not name or len(name) > 64:
        _refuse(row, TerminalError("opencart-db", "invalid_manufacturer",
                                   f"Manufacturer name must be 1 to 64 characters: {name!r}."))
    shop = shop_db(store)
    m, ms = shop.t("manufacturer"), shop.t("manufacturer_to_store")
    stored = product_model._esc(shop, name)
    cols = {"name": stored}
    if req["sort_order"] is not None:
        cols["sort_order"] = int(req["sort_order"])
    if req["image"] is not None:
        cols["image"] = product_model._esc(shop, req["image"])
    row.via, row.plan = "db", ["manufacturer", "stores"]
    with shop.engine.begin() as conn:
        if "floor" not in row.marks and creating:
            row.marks["floor"] = int(conn.execute(sa.select(sa.func.max(m.c.manufacturer_id))).scalar() or 0)
            _save(row)
        mid = row.marks.get("manufacturer_id") or req["manufacturer_id"]
        if mid is None:
            mid = conn.execute(sa.select(m.c.manufacturer_id).where(
                m.c.manufacturer_id > row.marks["floor"], m.c.name == stored).order_by(m.c.manufacturer_id)
                .limit(1)).scalar()
        _checkpoint("manufacturer", "before")
        if mid is None:
            mid = int(conn.execute(sa.insert(m).values(**{"image": "", "sort_order": 0, **cols}))
                      .inserted_primary_key[0])
        elif not conn.execute(sa.update(m).where(m.c.manufacturer_id == int(mid)).values(**cols)).rowcount and \
                conn.execute(sa.select(m.c.manufacturer_id).where(m.c.manufacturer_id == int(mid))).first() is None:
            _refuse(row, TerminalError("opencart-db", "unknown_manufacturer", f"Manufacturer {mid} does not exist."))
        row.marks["manufacturer_id"] = int(mid)
        _checkpoint("manufacturer", "after")
        if req["store_ids"] is not None:
            conn.execute(sa.delete(ms).where(ms.c.manufacturer_id == int(mid)))
            ids = list(dict.fromkeys(int(s) for s in req["store_ids"]))
            if ids:
                conn.execute(sa.insert(ms), [{"manufacturer_id": int(mid), "store_id": s} for s in ids])
        _checkpoint("stores", "after")
    row.steps_done = list(row.plan)
    _save(row, state=ShopWrite.State.DONE, error="")
    return ManufacturerWrite(int(row.marks["manufacturer_id"]), creating)


# --- creating or updating a customer (CRM contacts) ---------------------------------------------------------------


@dataclass
class CustomerWrite:
    customer_id: int
    created: bool
    repeated: bool = False


CUSTOMER_FIELDS = ("firstname", "lastname", "email", "telephone")


def upsert_customer(store, fields: dict, *, customer_group_id: int, key: str,
                    customer_id: int | None = None) -> CustomerWrite:
    """Create a customer or update one, as the admin's customer form saves it (admin/model/customer/customer.php
    addCustomer/editCustomer, 2.3.0.2–4.0.2.3: names, e-mail, telephone, group, status on, `custom_field` "[]"),
    once per key. Never a password: the hub writes none (the stored hash stays empty, which no login matches), so
    the customer sets one with "Forgotten password". The language is the store's, as the shop's own registration
    sets it. One statement; a retry of a create finds the row it made by e-mail above the highest id seen when the
    write began. Refused with the reason: no valid e-mail, a name over 32 characters, an unknown group, or (on
    create) an e-mail another customer has — the admin form's checks."""
    from ocbridge.opencart import shop_db, statuses
    from ocbridge.opencart.models import ShopWrite

    creating = customer_id is None
    row, made = _begin(store, key, "customer", {
        "customer_id": customer_id, "customer_group_id": int(customer_group_id),
        "fields": {k: str(fields.get(k) or "").strip() for k in CUSTOMER_FIELDS}})
    if made is not None:
        return CustomerWrite(made, creating, repeated=True)
    req, shop = row.request, shop_db(store)
    c, cg = shop.t("customer"), shop.t("customer_group")
    esc = {k: product_model._esc(shop, v) for k, v in req["fields"].items()}
    row.via, row.plan = "db", ["customer"]

    def refuse(message: str):
        _refuse(row, TerminalError("opencart-db", "invalid_customer", message))

    email = req["fields"]["email"]
    if "@" not in email or len(esc["email"]) > 96:
        refuse(f"Customer e-mail {email!r} is not valid.")
    for k in ("firstname", "lastname", "telephone"):
        if len(esc[k]) > 32:
            refuse(f"Customer {k} must be at most 32 characters: {req['fields'][k]!r}.")
    if not req["fields"]["firstname"]:
        refuse("The customer has no first name.")
    with shop.engine.begin() as conn:
        if conn.execute(sa.select(cg.c.customer_group_id).where(
                cg.c.customer_group_id == req["customer_group_id"])).first() is None:
            refuse(f"Customer group {req['customer_group_id']} does not exist in this shop.")
        same_email = sa.func.lower(c.c.email) == esc["email"].lower()
        if creating and "floor" not in row.marks:
            if conn.execute(sa.select(c.c.customer_id).where(same_email)).first() is not None:
                refuse(f"A customer with e-mail {email} exists already.")
            row.marks["floor"] = int(conn.execute(sa.select(sa.func.max(c.c.customer_id))).scalar() or 0)
            _save(row)
        cid = row.marks.get("customer_id") or req["customer_id"]
        if cid is None:  # a retry: the row an interrupted create made
            cid = conn.execute(sa.select(c.c.customer_id).where(c.c.customer_id > row.marks["floor"], same_email)
                               .order_by(c.c.customer_id).limit(1)).scalar()
        cols = {**esc, "customer_group_id": req["customer_group_id"]}
        _checkpoint("customer", "before")
        if cid is None:
            cfg = statuses.read_settings(shop, store.oc_store_id)
            lang = next((i for i, code in statuses.languages(shop).items() if code == cfg.language_code), 0)
            new = {"store_id": int(store.oc_store_id or 0), "language_id": lang, "password": "", "custom_field": "[]",
                   "newsletter": 0, "ip": "", "status": 1, "safe": 0, "token": "", "code": "",
                   "date_added": _now(conn, shop, ADMIN_STORE), **cols}
            extra = {"fax": "", "salt": "", "address_id": 0, "approved": 1}
            new.update({k: v for k, v in extra.items() if k in c.c})
            cid = int(conn.execute(sa.insert(c).values(**new)).inserted_primary_key[0])
        elif conn.execute(sa.select(c.c.customer_id).where(c.c.customer_id == int(cid))).first() is None:
            refuse(f"Customer {cid} does not exist.")
        else:
            conn.execute(sa.update(c).where(c.c.customer_id == int(cid)).values(**cols))
        row.marks["customer_id"] = int(cid)
        _checkpoint("customer", "after")
    row.steps_done = ["customer"]
    _save(row, state=ShopWrite.State.DONE, error="")
    return CustomerWrite(int(row.marks["customer_id"]), creating)


# --- creating or renaming a customer group (CRM contact groups) ----------------------------------------------------


@dataclass
class CustomerGroupWrite:
    customer_group_id: int
    created: bool
    repeated: bool = False


def upsert_customer_group(store, names: dict[int, str], *, key: str,
                          customer_group_id: int | None = None) -> CustomerGroupWrite:
    """Create a customer group or rename one, as the admin's customer group form saves it (admin/model/customer/
    customer_group.php addCustomerGroup/editCustomerGroup, 2.3.0.2–4.0.2.3 alike: the `customer_group` row, then
    its `customer_group_description` rows replaced, one per shop language), once per key. `names`: language_id →
    name; a shop language without one gets the store language's (else the first given). A new group needs no
    approval and sorts last; a rename keeps the group's approval, sort order and descriptions. One transaction on
    InnoDB; on MyISAM the new row's id is journaled at once and a retry adopts a row an interrupted create left
    without names. A name the form refuses (3 to 32 characters) or an unknown group is refused with the reason."""
    from ocbridge.opencart import shop_db, statuses
    from ocbridge.opencart.models import ShopWrite

    creating = customer_group_id is None
    row, made = _begin(store, key, "customer_group", {
        "customer_group_id": customer_group_id, "names": {str(k): str(v or "").strip() for k, v in names.items()}})
    if made is not None:
        return CustomerGroupWrite(made, creating, repeated=True)
    shop = shop_db(store)
    g, gd = shop.t("customer_group"), shop.t("customer_group_description")
    given = {int(k): v for k, v in row.request["names"].items() if v}
    row.via, row.plan = "db", ["customer_group"]

    def refuse(message: str):
        _refuse(row, TerminalError("opencart-db", "invalid_customer_group", message))

    if not given:
        refuse("The customer group has no name.")
    for name in given.values():
        if len(name) < 3 or len(product_model._esc(shop, name)) > 32:
            refuse(f"Customer group name must be 3 to 32 characters: {name!r}.")
    transactional = shop.version.innodb or not shop.is_mysql
    cfg = statuses.read_settings(shop, store.oc_store_id)
    with shop.engine.begin() as conn:
        languages = product_model.languages(conn, shop)
        preferred = next((i for i, c in statuses.languages(shop).items() if c == cfg.language_code), None)
        gid = row.marks.get("customer_group_id") or row.request["customer_group_id"]
        if gid is not None and conn.execute(sa.select(g.c.customer_group_id).where(
                g.c.customer_group_id == int(gid))).first() is None:
            refuse(f"Customer group {gid} does not exist in this shop.")
        if creating and "floor" not in row.marks:
            row.marks["floor"] = int(conn.execute(sa.select(sa.func.max(g.c.customer_group_id))).scalar() or 0)
            _save(row)
        if gid is None:  # a retry on MyISAM: the row an interrupted create made, still without its names
            gid = conn.execute(sa.select(g.c.customer_group_id).where(
                g.c.customer_group_id > row.marks["floor"],
                ~sa.exists().where(gd.c.customer_group_id == g.c.customer_group_id))
                .order_by(g.c.customer_group_id).limit(1)).scalar()
        _checkpoint("customer_group", "before")
        if gid is None:
            last = conn.execute(sa.select(sa.func.max(g.c.sort_order))).scalar() or 0
            gid = int(conn.execute(sa.insert(g).values(approval=0, sort_order=int(last) + 1)).inserted_primary_key[0])
            row.marks["customer_group_id"] = gid
            if not transactional:
                _save(row)  # MyISAM: the row is there now; a crash before its names must not make a second
        row.marks["customer_group_id"] = int(gid)
        _checkpoint("customer_group", "after")
        old = dict(conn.execute(sa.select(gd.c.language_id, gd.c.description).where(
            gd.c.customer_group_id == int(gid))).all())
        conn.execute(sa.delete(gd).where(gd.c.customer_group_id == int(gid)))
        conn.execute(sa.insert(gd), [
            {"customer_group_id": int(gid), "language_id": lang, "name": product_model._esc(shop, name),
             "description": old.get(lang, "")}
            for lang, name in product_model._per_language(given, languages, preferred).items()])
        _checkpoint("names", "after")
    row.steps_done = ["customer_group"]
    _save(row, state=ShopWrite.State.DONE, error="")
    return CustomerGroupWrite(int(row.marks["customer_group_id"]), creating)
