"""Reading orders: one order with its lines, new orders by watermark, statuses by primary key, customer counts.

Every query here follows a primary key or an existing KEY (opencart.md §1.2): `order` has only PRIMARY, so
new orders are found by `order_id > watermark`, orders still at status 0 are re-read by id for 24 h, and
`order_option` (no order_id key anywhere) / `order_product` (none in 2.3) are read inside an id range that
the poll remembers. No query scans a whole table.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from dataclasses import asdict, dataclass, field
from decimal import Decimal

import sqlalchemy as sa

from ocbridge.opencart.db import ShopDB

PENDING_ZERO_TTL = dt.timedelta(hours=24)  # DESIGN Decisions: status-0 orders re-checked for 24 h
GAP_TTL = dt.timedelta(minutes=10)  # ids skipped by out-of-order commits (InnoDB) get a short second look
MAX_PENDING = 20000
BATCH = 500


def unescape(text: str | None) -> str:
    """OpenCart stores input HTML-escaped (opencart.md T11)."""
    return html.unescape(text or "")


def when(value) -> dt.datetime | None:
    """A datetime column's value, or None for MySQL's zero date (PyMySQL hands '0000-00-00 00:00:00' back as text)."""
    return value if isinstance(value, dt.datetime) else None


def payment_code_of(row) -> str:
    """Normalized payment code: the part before the first dot (`cod.cod` → `cod`, `kapida_odeme` stays).

    2.3/3.0/4.0.0–4.0.1 have a `payment_code` column; 4.0.2+ keep it in the JSON `payment_method.code`.
    """
    m = getattr(row, "_mapping", row)
    code = m.get("payment_code") or ""
    if not code and m.get("payment_method"):
        code = (_json_method(m["payment_method"]) or {}).get("code", "")
    return str(code).split(".", 1)[0].strip()


def shipping_code_of(m) -> str:
    m = getattr(m, "_mapping", m)
    code = m.get("shipping_code") or ""
    if not code and m.get("shipping_method"):
        code = (_json_method(m["shipping_method"]) or {}).get("code", "")
    return str(code).split(".", 1)[0].strip()


def _json_method(value: str) -> dict | None:
    if not value or not value.lstrip().startswith("{"):
        return None
    try:
        data = json.loads(value)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def method_title(value: str | None) -> str:
    """Display name of a payment/shipping method (4.0: JSON `name`; older: the text itself)."""
    data = _json_method(value or "")
    if data is not None:
        return unescape(str(data.get("name", "")))
    return unescape(value)


@dataclass
class OrderLine:
    """One order_product row with its options."""

    order_product_id: int
    product_id: int
    name: str
    model: str
    quantity: int
    price: Decimal
    total: Decimal
    tax: Decimal
    master_id: int = 0
    options: list[dict] = field(default_factory=list)


@dataclass
class Order:
    """An order as the hub needs it; text already unescaped, payment code normalized."""

    order_id: int
    store_id: int
    order_status_id: int
    customer_id: int
    firstname: str
    lastname: str
    email: str
    telephone: str
    payment_code: str
    payment_method: str
    shipping_code: str
    total: Decimal
    currency_code: str
    currency_value: Decimal
    language_id: int
    date_added: dt.datetime | None
    date_modified: dt.datetime | None
    comment: str = ""
    store_name: str = ""
    country_id: int = 0
    raw_payment_code: str = ""
    countries: tuple[str, ...] = ()  # ISO codes of the shipping, then payment country (phone numbers are read so)
    language_code: str = ""  # OpenCart's code of the order's language (`tr-tr`), read with the order
    lines: list[OrderLine] = field(default_factory=list)
    totals: list[dict] = field(default_factory=list)
    lines_loaded: bool = False

    @property
    def item_count(self) -> int:
        return sum(line.quantity for line in self.lines)


ORDER_COLUMNS = ("order_id", "store_id", "store_name", "order_status_id", "customer_id", "firstname", "lastname",
                 "email", "telephone", "payment_method", "payment_code", "shipping_method", "shipping_code", "total",
                 "currency_code", "currency_value", "language_id", "date_added", "date_modified", "comment",
                 "shipping_country_id", "payment_country_id")


# What order status by phone speaks of an order (read_orders(columns=…)): a third of the columns, so a third of the
# column descriptions and values PyMySQL parses per read on a live call.
SPOKEN_COLUMNS = ("order_id", "store_id", "order_status_id", "telephone", "total", "currency_code", "language_id",
                  "date_added", "shipping_country_id", "payment_country_id")
# The same for orders found by the caller's number: their telephone is not compared again, so not the countries
# that say how it is written (two columns and two country subqueries fewer).
FOUND_BY_PHONE_COLUMNS = tuple(c for c in SPOKEN_COLUMNS if not c.endswith("_country_id"))


def _order_select(db: ShopDB, columns: tuple[str, ...] = ORDER_COLUMNS) -> sa.Select:
    t = db.t("order")
    cols = [t.c[c] for c in columns if c in t.c]
    country = db.metadata.tables.get(db.prefix + "country")
    if country is not None:  # the order's countries by primary key: how its telephone is written
        for side in ("shipping", "payment"):
            if f"{side}_country_id" in t.c and f"{side}_country_id" in columns:
                cols.append(sa.select(country.c.iso_code_2).where(country.c.country_id == t.c[f"{side}_country_id"])
                            .scalar_subquery().label(f"{side}_iso"))
    language = db.metadata.tables.get(db.prefix + "language")
    if language is not None and columns == ORDER_COLUMNS:  # with the order: no consumer reads the shop inside the
        cols.append(sa.select(language.c.code).where(language.c.language_id == t.c.language_id)  # hub's transaction
                    .scalar_subquery().label("language_code"))
    return sa.select(*cols)


def _orders_by_ids(db: ShopDB, columns: tuple[str, ...] = ORDER_COLUMNS) -> sa.Select:
    """Orders by primary keys (`ids`), built once per table definition: a statement built anew for every read cost
    SQLAlchemy more Python work (construction and its cache key) than the read itself (order status by phone)."""
    t = db.t("order")
    key = ("ocbridge.orders_by_ids", columns)
    stmt = t.info.get(key)
    if stmt is None:
        stmt = t.info[key] = _order_select(db, columns).where(t.c.order_id.in_(sa.bindparam("ids", expanding=True)))
    return stmt


def _to_order(m: dict) -> Order:
    # A column not read (read_orders(columns=…)) stays empty. A plain dict: SQLAlchemy's mapping answers a missing key
    # by raising and catching an error inside, ~20 times per order read for order status by phone.
    raw_code = m.get("payment_code") or ((_json_method(m.get("payment_method") or "") or {}).get("code", ""))
    return Order(
        order_id=m["order_id"], store_id=m["store_id"], order_status_id=m["order_status_id"],
        customer_id=m.get("customer_id", 0), firstname=unescape(m.get("firstname")),
        lastname=unescape(m.get("lastname")), email=unescape(m.get("email")), telephone=unescape(m["telephone"]),
        payment_code=payment_code_of(m), payment_method=method_title(m.get("payment_method")),
        shipping_code=shipping_code_of(m), total=Decimal(str(m["total"])), currency_code=m["currency_code"],
        currency_value=Decimal(str(m.get("currency_value", 1))), language_id=m["language_id"],
        date_added=when(m["date_added"]), date_modified=when(m.get("date_modified")),
        comment=unescape(m.get("comment")), store_name=unescape(m.get("store_name")),
        country_id=m.get("shipping_country_id") or m.get("payment_country_id") or 0, raw_payment_code=str(raw_code),
        countries=tuple(dict.fromkeys(c.upper() for c in (m.get("shipping_iso"), m.get("payment_iso")) if c)),
        language_code=m.get("language_code") or "",
    )


def read_orders(db: ShopDB, order_ids: list[int], *, lines: bool = True, line_floor: "LineFloor | None" = None,
                conn: sa.Connection | None = None, columns: tuple[str, ...] = ORDER_COLUMNS) -> dict[int, Order]:
    """Orders by primary key, with lines and totals when asked. `line_floor` bounds the line tables by id.
    `columns`: only these (e.g. SPOKEN_COLUMNS), the Order's other fields left empty."""
    if not order_ids:
        return {}
    out: dict[int, Order] = {}
    with _conn(db, conn) as c:
        for chunk in _chunks(sorted(set(order_ids)), BATCH):
            for row in c.execute(_orders_by_ids(db, columns), {"ids": chunk}):
                out[row.order_id] = _to_order(row._asdict())
        if lines and out:
            load_lines(db, c, list(out.values()), line_floor or LineFloor())
    return out


def _plain_select_head(db: ShopDB, columns: tuple[str, ...]) -> str:
    """`SELECT <columns> FROM <order table> WHERE order_id IN ` for read_orders_now, made once per table and columns;
    "" when a column is not the table's own."""
    t = db.t("order")
    key = ("ocbridge.orders_now", columns)
    head = t.info.get(key)
    if head is None:
        quote = db.engine.dialect.identifier_preparer.quote
        head = t.info[key] = (f"SELECT {', '.join(quote(c) for c in columns)} FROM {quote(t.name)} "
                              f"WHERE {quote('order_id')} IN " if set(columns) <= set(t.c.keys()) else "")
    return head


def read_orders_now(db: ShopDB, order_ids: list[int], columns: tuple[str, ...]) -> dict[int, Order]:
    """`read_orders(lines=False, columns=…)` for a caller on the line (order status by phone): on MySQL/MariaDB, one
    plain statement through the cursor of a pooled connection. SQLAlchemy's Connection, statement cache, expanding IN
    and result rows cost more CPU than the read itself: read_orders 1.1–1.3 ms per read against 0.55 ms this way
    (in-process, 2026-12-07). The pool, its checkout (deadline, liveness) and its connections stay SQLAlchemy's. Only
    the order table's own columns (no country subqueries); anything else, and the demo's SQLite shop, read_orders."""
    ids = sorted(set(order_ids))
    head = _plain_select_head(db, columns) if db.is_mysql else ""
    if not head or not ids or len(ids) > BATCH:  # a caller has a few orders; more is read_orders' work
        return read_orders(db, order_ids, lines=False, columns=columns)
    sql = head + "(" + ", ".join(["%s"] * len(ids)) + ")"
    raw = db.engine.raw_connection()
    try:
        cur = raw.cursor()
        try:
            cur.execute(sql, ids)
            names = [d[0] for d in cur.description]
            rows = cur.fetchall()
        finally:
            cur.close()
    except db.engine.dialect.loaded_dbapi.Error as exc:
        # What the engine does for a statement it runs: a connection the server dropped leaves the pool, and the
        # caller may try once more on a new one (db.connection_lost).
        if db.engine.dialect.is_disconnect(exc, raw.dbapi_connection, None):
            raw.invalidate(exc)
            exc.connection_lost = True
        raise
    finally:
        raw.close()
    return {m["order_id"]: _to_order(m) for m in (dict(zip(names, row)) for row in rows)}


def read_order(db: ShopDB, order_id: int, *, lines: bool = True, columns: tuple[str, ...] = ORDER_COLUMNS) -> Order | None:
    """One order by primary key (None if it does not exist)."""
    return read_orders(db, [order_id], lines=lines, columns=columns).get(order_id)


def order_status(db: ShopDB, order_id: int) -> int | None:
    """The current order_status_id, re-read by primary key right before acting."""
    t = db.t("order")
    with db.engine.connect() as conn:
        return conn.execute(sa.select(t.c.order_status_id).where(t.c.order_id == order_id)).scalar()


@dataclass
class CustomerFace:
    """What the customer knows of an order: its number as OpenCart's order mail and account page show it, the invoice
    number once the shop made one, and the storefront it was placed on (`store_url`, OpenCart's snapshot at checkout:
    HTTP(S)_SERVER for the default store, the `store` row's url for the others; catalog/controller/checkout/confirm.php
    3.0.3.9 and 4.0.2.3)."""

    status: int
    store_url: str = ""
    invoice: str = ""


def customer_face(db: ShopDB, order_id: int) -> CustomerFace | None:
    """The order's status with what its customer saw of it (one primary-key read), None when it is not there."""
    t = db.t("order")
    cols = [t.c[c] for c in ("order_status_id", "store_url", "invoice_prefix", "invoice_no") if c in t.c]
    with db.engine.connect() as conn:
        row = conn.execute(sa.select(*cols).where(t.c.order_id == order_id)).mappings().first()
    if row is None:
        return None
    invoice = f"{row.get('invoice_prefix') or ''}{row['invoice_no']}" if row.get("invoice_no") else ""
    url = html.unescape(str(row.get("store_url") or "")).strip()
    return CustomerFace(status=int(row["order_status_id"]), store_url=url if url.startswith(("https://", "http://")) else "",
                        invoice=html.unescape(invoice))


@dataclass
class LineFloor:
    """Lowest ids the lines of the orders being read can have (0 = unknown → use the order_id key only)."""

    order_product_id: int = 0
    order_option_id: int = 0


def load_lines(db: ShopDB, conn: sa.Connection, orders: list[Order], floor: LineFloor) -> None:
    """Fill lines, options and totals. order_total has KEY order_id everywhere; order_product only from 3.0;
    order_option never — those two are read inside (floor, ∞) of their primary key when a floor is known."""
    by_id = {o.order_id: o for o in orders}
    ids = list(by_id)
    op, oo, ot = db.t("order_product"), db.t("order_option"), db.t("order_total")
    stmt = sa.select(op).where(op.c.order_id.in_(ids))
    if floor.order_product_id:
        stmt = stmt.where(op.c.order_product_id > floor.order_product_id)
    for r in conn.execute(stmt.order_by(op.c.order_product_id)):
        m = r._mapping
        by_id[m["order_id"]].lines.append(OrderLine(
            order_product_id=m["order_product_id"], product_id=m["product_id"], name=unescape(m["name"]),
            model=unescape(m["model"]), quantity=m["quantity"], price=Decimal(str(m["price"])),
            total=Decimal(str(m["total"])), tax=Decimal(str(m["tax"])), master_id=m.get("master_id") or 0))
    lines = {line.order_product_id: line for o in orders for line in o.lines}
    stmt = sa.select(oo).where(oo.c.order_id.in_(ids))
    if floor.order_option_id:
        stmt = stmt.where(oo.c.order_option_id > floor.order_option_id)
    if lines:
        for r in conn.execute(stmt.order_by(oo.c.order_option_id)):
            m = r._mapping
            line = lines.get(m["order_product_id"])
            if line is not None:
                line.options.append({"product_option_id": m["product_option_id"],
                                     "product_option_value_id": m["product_option_value_id"],
                                     "name": unescape(m["name"]), "value": unescape(m["value"]), "type": m["type"]})
    for r in conn.execute(sa.select(ot).where(ot.c.order_id.in_(ids)).order_by(ot.c.sort_order)):
        m = r._mapping
        by_id[m["order_id"]].totals.append({"code": m["code"], "title": unescape(m["title"]),
                                            "value": Decimal(str(m["value"])), "sort_order": m["sort_order"]})
    for o in orders:
        o.lines_loaded = True


# --- polling ---------------------------------------------------------------------------------------------


@dataclass
class PollWatermark:
    """Where the last poll stopped; plain data the caller persists (PollState) and hands back next time."""

    last_order_id: int = 0
    last_order_product_id: int = 0
    last_order_option_id: int = 0
    # str(order_id) → {"seen": ISO time first seen, "op": product-id floor, "oo": option-id floor, "gap": bool}
    pending: dict[str, dict] = field(default_factory=dict)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict | None) -> "PollWatermark":
        data = dict(data or {})
        return cls(**{k: data[k] for k in ("last_order_id", "last_order_product_id", "last_order_option_id",
                                           "pending") if k in data})


@dataclass
class PollResult:
    """Orders that became visible with a real status since the last poll, and the new watermark."""

    orders: list[Order]
    watermark: PollWatermark
    more: bool = False  # the batch limit was hit: poll again soon
    unfollowed_zero: int = 0  # status-0 orders not followed by primary key (MAX_PENDING reached)
    queries: list[str] = field(default_factory=list, repr=False)
    history_top: int = 0  # the newest order_history id when this poll looked (opencart.feed reads past its cursors)


def initial_watermark(db: ShopDB) -> PollWatermark:
    """Start from now: a shop connected today does not replay its whole history (three MAX() on primary keys)."""
    with db.engine.connect() as conn:
        def top(table: str, col: str) -> int:
            return conn.execute(sa.select(sa.func.max(db.t(table).c[col]))).scalar() or 0

        return PollWatermark(last_order_id=top("order", "order_id"),
                             last_order_product_id=top("order_product", "order_product_id"),
                             last_order_option_id=top("order_option", "order_option_id"))


PROBE_PENDING = BATCH  # followed status-0 orders asked about inside the probe; more are re-read as before


@dataclass
class Probe:
    """What changed in the shop since a watermark, in one statement (a poll of a quiet shop needs nothing more)."""

    order_product_top: int
    order_option_top: int
    order_top: int
    history_top: int
    pending_moved: bool | None  # a followed status-0 order has a status now, or a skipped id exists (None: not asked)

    def quiet(self, mark: PollWatermark, history_from: int, now: dt.datetime) -> bool:
        """Nothing for a poll at `mark` (and a history reader at `history_from`) to hand over or move at `now`."""
        return (self.order_top <= mark.last_order_id and self.order_product_top <= mark.last_order_product_id
                and self.order_option_top <= mark.last_order_option_id and self.history_top <= history_from
                and (not mark.pending or self.pending_moved is False)
                and not any(_expired(entry, now) for entry in mark.pending.values()))


def _expired(entry: dict, now: dt.datetime) -> bool:
    """A followed status-0 order (or skipped id) no longer re-read by primary key (the history feed finds it)."""
    return now - dt.datetime.fromisoformat(entry["seen"]) > (GAP_TTL if entry.get("gap") else PENDING_ZERO_TTL)


def probe(db: ShopDB, conn: sa.Connection, mark: PollWatermark) -> Probe:
    """The newest id of each table a poll reads (primary-key MAX: no scan) and whether any order followed by
    `mark.pending` turned up — as one SELECT of scalar subqueries, one round trip to the shop."""
    o, h = db.t("order"), db.t("order_history")
    op, oo = db.t("order_product"), db.t("order_option")
    cols = [sa.select(sa.func.max(op.c.order_product_id)).scalar_subquery(),
            sa.select(sa.func.max(oo.c.order_option_id)).scalar_subquery(),
            sa.select(sa.func.max(o.c.order_id)).scalar_subquery(),
            sa.select(sa.func.max(h.c.order_history_id)).scalar_subquery()]
    asked = 0 < len(mark.pending) <= PROBE_PENDING
    if asked:
        ids = [int(k) for k in mark.pending]
        gaps = [int(k) for k, e in mark.pending.items() if e.get("gap")]
        turned = o.c.order_status_id > 0
        if gaps:  # a skipped id that now exists, at any status, changes what is followed
            turned = sa.or_(turned, o.c.order_id.in_(gaps))
        cols.append(sa.select(sa.func.count()).select_from(o).where(o.c.order_id.in_(ids), turned).scalar_subquery())
    row = conn.execute(sa.select(*cols)).one()
    return Probe(order_product_top=int(row[0] or 0), order_option_top=int(row[1] or 0), order_top=int(row[2] or 0),
                 history_top=int(row[3] or 0), pending_moved=bool(row[4]) if asked else None)


def poll(db: ShopDB, mark: PollWatermark, *, now: dt.datetime, limit: int = BATCH,
         conn: sa.Connection | None = None) -> PollResult:
    """New orders by `order_id > watermark`, plus a re-check by id of orders seen at status 0 (or skipped ids).

    `now` comes from the hub clock (core.clock.now()); ages of pending entries use it, never the shop's time.
    A shop with nothing new costs one statement (`probe`).
    """
    t = db.t("order")
    mark = PollWatermark.from_json(mark.to_json())  # never mutate the caller's copy
    with _conn(db, conn) as conn:
        # Line-table ceilings first (in the probe): lines of orders inserted after it get higher ids (load_lines).
        seen = probe(db, conn, mark)
        op_max, oo_max = seen.order_product_top, seen.order_option_top
        new_rows = []
        if seen.order_top > mark.last_order_id:
            new_rows = conn.execute(_order_select(db).where(t.c.order_id > mark.last_order_id)
                                    .order_by(t.c.order_id).limit(limit)).all()
        pending_ids = [int(k) for k in mark.pending] if seen.pending_moved is not False else []
        recheck = read_orders(db, pending_ids, lines=False, conn=conn) if pending_ids else {}

        ready: list[tuple[Order, LineFloor]] = []
        unfollowed = 0
        floor_new = LineFloor(mark.last_order_product_id, mark.last_order_option_id)
        expected = mark.last_order_id + 1
        for row in new_rows:
            order = _to_order(row._asdict())
            for gap in range(expected, order.order_id):  # out-of-order commit or deleted order
                if len(mark.pending) < MAX_PENDING and gap - expected < 1000:
                    mark.pending[str(gap)] = {"seen": now.isoformat(), "op": floor_new.order_product_id,
                                              "oo": floor_new.order_option_id, "gap": True}
            expected = order.order_id + 1
            if order.order_status_id > 0:
                ready.append((order, floor_new))
            elif len(mark.pending) < MAX_PENDING:
                mark.pending[str(order.order_id)] = {"seen": now.isoformat(), "op": floor_new.order_product_id,
                                                     "oo": floor_new.order_option_id, "gap": False}
            else:  # counted and shown (PollState.unfollowed_zero); the history feed still finds it later
                unfollowed += 1
        for key, entry in list(mark.pending.items()):
            oid = int(key)
            order = recheck.get(oid)
            if order is not None and order.order_status_id > 0:
                ready.append((order, LineFloor(entry["op"], entry["oo"])))
                del mark.pending[key]
                continue
            if order is not None and entry.get("gap"):  # a skipped id showed up at status 0: now a normal pending
                entry["gap"] = False
            if _expired(entry, now):
                del mark.pending[key]
        # Lines: one batch per floor (new orders share the same floor).
        groups: dict[tuple[int, int], list[Order]] = {}
        for order, floor in ready:
            groups.setdefault((floor.order_product_id, floor.order_option_id), []).append(order)
        for (fop, foo), orders in groups.items():
            for chunk in _chunks(orders, BATCH):
                load_lines(db, conn, chunk, LineFloor(fop, foo))
    more = len(new_rows) >= limit
    if new_rows:
        mark.last_order_id = new_rows[-1].order_id
    if not more:  # a truncated batch leaves older orders whose lines may sit below the ceilings
        mark.last_order_product_id = max(mark.last_order_product_id, op_max)
        mark.last_order_option_id = max(mark.last_order_option_id, oo_max)
    ready_orders = sorted((o for o, _ in ready), key=lambda o: o.order_id)
    return PollResult(orders=ready_orders, watermark=mark, more=more, unfollowed_zero=unfollowed,
                      history_top=seen.history_top)


# --- status changes of other orders (order_history watermark) -------------------------------------------


@dataclass
class HistoryEvent:
    """One order_history row: a status change made through OpenCart's model (admin, API, checkout)."""

    order_history_id: int
    order_id: int
    order_status_id: int
    notify: bool
    comment: str
    date_added: dt.datetime | None
    store_id: int = 0  # the order's store (order_history has none): filled from `order` by primary key


def delivery_address(db: ShopDB, order_id: int) -> dict[str, str] | None:
    """The order's delivery address as the customer typed it (opencart.writes.ADDRESS_FIELDS, unescaped), with its
    status under "order_status_id"; None when the order does not exist. One primary-key read."""
    from ocbridge.opencart.writes import ADDRESS_FIELDS

    o = db.t("order")
    with db.engine.connect() as conn:
        row = conn.execute(sa.select(o.c.order_status_id, *[o.c[k] for k in ADDRESS_FIELDS])
                           .where(o.c.order_id == order_id)).first()
    if row is None:
        return None
    return {"order_status_id": row.order_status_id, **{k: unescape(row._mapping[k]) for k in ADDRESS_FIELDS}}


def poll_history(db: ShopDB, last_history_id: int, *, limit: int = BATCH,
                 conn: sa.Connection | None = None) -> list[HistoryEvent]:
    """History rows after the watermark, by primary key, each with its order's store_id (one PK read)."""
    h, o = db.t("order_history"), db.t("order")
    stmt = sa.select(h).where(h.c.order_history_id > last_history_id).order_by(h.c.order_history_id).limit(limit)
    with _conn(db, conn) as conn:
        events = [HistoryEvent(r.order_history_id, r.order_id, r.order_status_id, bool(r.notify), unescape(r.comment),
                               when(r.date_added)) for r in conn.execute(stmt)]
        ids = sorted({e.order_id for e in events})
        pk_read = sa.select(o.c.order_id, o.c.store_id).where(o.c.order_id.in_(ids))
        stores = {r.order_id: r.store_id for r in conn.execute(pk_read)} if ids else {}
    for e in events:
        e.store_id = int(stores.get(e.order_id) or 0)
    return events


def orders_in_range(db: ShopDB, after_order_id: int, upto_order_id: int, *, limit: int = BATCH) -> list[Order]:
    """Orders with a real status in (after, upto] by primary key, with lines: what a consumer missed while off."""
    t = db.t("order")
    with db.engine.connect() as conn:
        rows = conn.execute(_order_select(db).where(t.c.order_id > after_order_id, t.c.order_id <= upto_order_id,
                                                    t.c.order_status_id > 0).order_by(t.c.order_id).limit(limit)).all()
        found = [_to_order(r._asdict()) for r in rows]
        if found:
            load_lines(db, conn, found, LineFloor())
    return found


# --- customers -------------------------------------------------------------------------------------------


def completed_order_count(db: ShopDB, *, customer_id: int = 0, email: str = "", statuses: set[int],
                          before_order_id: int | None = None, window: int = 200_000) -> int:
    """Orders of this customer (by customer_id, or email for guests) in the given statuses.

    `order` has no key on customer_id or email, so the count looks only at the `window` orders before
    `before_order_id` (a primary-key range): bounded cost, a customer's very old orders are not seen.
    """
    if not statuses or (not customer_id and not email):
        return 0
    t = db.t("order")
    with db.engine.connect() as conn:
        hi = before_order_id if before_order_id is not None else (
            conn.execute(sa.select(sa.func.max(t.c.order_id))).scalar() or 0) + 1
        who = []
        if customer_id:
            who.append(t.c.customer_id == customer_id)
        if email:
            who.append(t.c.email == html.escape(email, quote=False).replace('"', "&quot;"))
        stmt = sa.select(sa.func.count()).select_from(t).where(
            t.c.order_id >= max(0, hi - window), t.c.order_id < hi, sa.or_(*who), t.c.order_status_id.in_(statuses))
        return int(conn.execute(stmt).scalar() or 0)


# --- helpers ---------------------------------------------------------------------------------------------


class _conn:
    """Use the caller's connection or open one."""

    def __init__(self, db: ShopDB, conn: sa.Connection | None):
        self.db, self.conn, self.own = db, conn, None

    def __enter__(self) -> sa.Connection:
        if self.conn is not None:
            return self.conn
        self.own = self.db.engine.connect()
        return self.own

    def __exit__(self, *exc) -> None:
        if self.own is not None:
            self.own.close()


def _chunks(items: list, n: int):
    for i in range(0, len(items), n):
        yield items[i:i + n]
