"""Helpers of the order lookup tests: shop rows, the phone index, simulated inbound calls."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import sqlalchemy as sa


def add_order(h, order_id: int, *, telephone: str, status: int = 3, store_id: int = 0, days_ago: float = 2,
              total: str = "229.90", comment: str = "", currency: str = "TRY") -> None:
    """An order as OpenCart's checkout leaves it (+ one history row, with a comment if given)."""
    from ocbridge.opencart.reference import complete_row

    shop = h.shop
    when = (dt.datetime.now() - dt.timedelta(days=days_ago)).replace(microsecond=0)
    row = {"order_id": order_id, "store_id": store_id, "firstname": "Ayşe", "lastname": "Yılmaz", "email": "a@example.com",
           "telephone": telephone, "customer_id": 0, "order_status_id": status, "total": Decimal(total),
           "currency_code": currency, "currency_value": Decimal(1), "language_id": 2, "date_added": when,
           "date_modified": when, "store_name": "Demo", "custom_field": "[]", "payment_country_id": 215}
    if shop.layout == "4.0":
        row["payment_method"] = '{"name": "Kapıda Ödeme", "code": "cod.cod"}'
        row["shipping_method"] = '{"name": "Flat", "code": "flat.flat"}'
    else:
        row.update(payment_method="Kapıda Ödeme", payment_code="cod", shipping_method="Flat", shipping_code="flat.flat")
    with h.engine.begin() as conn:
        conn.execute(sa.insert(shop.t("order")), [complete_row(shop.t("order"), row)])
        conn.execute(sa.insert(shop.t("order_history")), [complete_row(shop.t("order_history"), {
            "order_id": order_id, "order_status_id": status, "notify": 0, "comment": comment, "date_added": when})])


def index(store, days_back: int = 30) -> None:
    """Bring the hub's phone index up to date as the jobs do: first poll, back-fill below it, new orders."""
    from ocbridge import opencart
    from ocbridge.integrations.order_lookup.jobs import backfill_index

    opencart.poll_new_orders(store, limit=500)
    while not backfill_index(store, days_back=days_back).done:
        pass
    while len(opencart.poll_new_orders(store, limit=500)) == 500:
        pass


def twilio_inbound(sim, url: str, *, caller: str, called: str = "+15005550006", presses: list[str] | None = None) -> dict:
    """Someone calls our Twilio number: the simulator fetches `url` (signed) and follows our TwiML.

    The simulator has no public inbound-call control yet, so this drives its TwiML executor directly.
    """
    call = {"sid": "CA" + uuid.uuid4().hex, "url": url, "method": "POST", "twiml": None, "from": caller, "to": called,
            "status": "in-progress", "direction": "inbound", "transcript": [], "errors": []}
    sim._follow(call, list(presses or []))
    return call


def said(call: dict) -> list[str]:
    """What the caller heard, one entry per <Say>."""
    return [v["text"] for v in call["transcript"] if v["verb"] == "Say"]


def pbx_url(conn) -> str:
    return conn.webhook_url("call-decision")
