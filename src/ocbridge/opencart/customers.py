"""Reading the shop's customers and customer groups (CRM sync): by primary key, by e-mail, the groups by name.

Writes go through opencart.writes (upsert_customer, upsert_customer_group). Texts come back unescaped, as the
admin shows them.
"""

from __future__ import annotations

import sqlalchemy as sa

from ocbridge.opencart.db import ShopDB
from ocbridge.opencart.orders import unescape

CUSTOMER_COLUMNS = ("customer_id", "customer_group_id", "firstname", "lastname", "email", "telephone")


def _row(r) -> dict:
    return {"customer_id": r.customer_id, "customer_group_id": r.customer_group_id,
            **{k: unescape(getattr(r, k) or "") for k in ("firstname", "lastname", "email", "telephone")}}


def by_ids(db: ShopDB, customer_ids: list[int]) -> dict[int, dict]:
    if not customer_ids:
        return {}
    c = db.t("customer")
    with db.engine.connect() as conn:
        return {r.customer_id: _row(r) for r in conn.execute(
            sa.select(*[c.c[k] for k in CUSTOMER_COLUMNS]).where(c.c.customer_id.in_([int(i) for i in customer_ids])))}


def id_by_email(db: ShopDB, email: str) -> int | None:
    """The customer with this e-mail (any case; the lowest id when the shop has several). `customer` has no key on
    email in 2.3/3.0: one scan, done only for contacts new to the hub."""
    c = db.t("customer")
    with db.engine.connect() as conn:
        return conn.execute(sa.select(c.c.customer_id).where(sa.func.lower(c.c.email) == email.strip().lower())
                            .order_by(c.c.customer_id).limit(1)).scalar()


def groups(db: ShopDB, language_id: int | None = None) -> dict[int, str]:
    """customer_group_id → its name (in `language_id` where it has one, else any), by sort order."""
    g, gd = db.t("customer_group"), db.t("customer_group_description")
    with db.engine.connect() as conn:
        rows = conn.execute(sa.select(g.c.customer_group_id, gd.c.language_id, gd.c.name)
                            .select_from(g.outerjoin(gd, gd.c.customer_group_id == g.c.customer_group_id))
                            .order_by(g.c.sort_order, g.c.customer_group_id)).all()
    out: dict[int, str] = {}
    for r in rows:
        if r.customer_group_id not in out or r.language_id == language_id:
            out[r.customer_group_id] = unescape(r.name or "")
    return out


def group_names(db: ShopDB, customer_group_id: int) -> dict[int, str]:
    """language_id → the group's name."""
    gd = db.t("customer_group_description")
    with db.engine.connect() as conn:
        return {r.language_id: unescape(r.name) for r in conn.execute(
            sa.select(gd.c.language_id, gd.c.name).where(gd.c.customer_group_id == int(customer_group_id)))}


def default_group(db: ShopDB, store_id: int = 0) -> int:
    """The group a new customer gets (setting config_customer_group_id; OpenCart installs with 1)."""
    st = db.t("setting")
    with db.engine.connect() as conn:
        rows = conn.execute(sa.select(st.c.store_id, st.c.value).where(
            st.c.key == "config_customer_group_id", st.c.store_id.in_({0, int(store_id or 0)}))).all()
    value = next((r.value for r in sorted(rows, key=lambda r: r.store_id == 0)), "1")
    return int(value) if str(value).strip().isdigit() else 1
