"""Small builders for shop rows in tests (an order with one line and an option, written as checkout leaves it)."""

import datetime as dt
import json
from decimal import Decimal

import sqlalchemy as sa

from ocbridge.opencart.reference import complete_row


def add_product(h, product_id, *, quantity=10, subtract=1, option_value_qty=None):
    shop = h.shop
    with h.engine.begin() as conn:
        conn.execute(sa.insert(shop.t("product")), [complete_row(shop.t("product"), {
            "product_id": product_id, "model": f"M{product_id}", "sku": f"S{product_id}", "quantity": quantity,
            "subtract": subtract, "price": Decimal("100"), "status": 1, "date_available": dt.date(2024, 1, 1),
            "date_added": dt.datetime(2024, 1, 1), "date_modified": dt.datetime(2024, 1, 1), "variant": "",
            "override": ""})])
        if option_value_qty is not None:
            conn.execute(sa.insert(shop.t("product_option_value")), [complete_row(shop.t("product_option_value"), {
                "product_option_value_id": product_id * 10, "product_option_id": product_id, "product_id": product_id,
                "option_id": 11, "option_value_id": 46, "quantity": option_value_qty, "subtract": 1,
                "price": Decimal(0), "price_prefix": "+", "points_prefix": "+", "weight_prefix": "+"})])


def add_order(h, order_id, *, status=1, payment="cod", title="Kapıda Ödeme", telephone="0532 123 45 67",
              store_id=0, product_id=None, qty=2, customer_id=0, email="a@example.com", firstname="Ayşe",
              option_value_id=None, language_id=2, **columns):
    shop = h.shop
    layout = shop.layout
    row = {"order_id": order_id, "store_id": store_id, "firstname": firstname, "lastname": "Yılmaz &amp; Oğlu",
           "email": email, "telephone": telephone, "customer_id": customer_id, "order_status_id": status,
           "total": Decimal("229.90"), "currency_code": "TRY", "currency_value": Decimal(1),
           "language_id": language_id, "date_added": dt.datetime(2024, 5, 1, 10), "store_name": "Demo",
           "date_modified": dt.datetime(2024, 5, 1, 10), "custom_field": "[]", "payment_country_id": 215, **columns}
    if layout == "4.0":
        row["payment_method"] = json.dumps({"name": title, "code": payment if "." in payment else f"{payment}.{payment}"})
        row["shipping_method"] = json.dumps({"name": "Flat", "code": "flat.flat"})
    else:
        row.update(payment_method=title, payment_code=payment, shipping_method="Flat", shipping_code="flat.flat")
    with h.engine.begin() as conn:
        conn.execute(sa.insert(shop.t("order")), [complete_row(shop.t("order"), row)])
        if product_id is not None:
            op_id = conn.execute(sa.insert(shop.t("order_product")), [complete_row(shop.t("order_product"), {
                "order_id": order_id, "product_id": product_id, "name": "Tişört", "model": "M", "quantity": qty,
                "price": Decimal("100"), "total": Decimal(100 * qty), "tax": Decimal(0)})]).inserted_primary_key[0]
            if option_value_id is not None:
                conn.execute(sa.insert(shop.t("order_option")), [complete_row(shop.t("order_option"), {
                    "order_id": order_id, "order_product_id": op_id, "product_option_id": product_id,
                    "product_option_value_id": option_value_id, "name": "Beden", "value": "M", "type": "select"})])
            conn.execute(sa.insert(shop.t("order_total")), [complete_row(shop.t("order_total"), {
                "order_id": order_id, "code": "total", "title": "Toplam", "value": Decimal("229.90"), "sort_order": 9})])


def set_status(h, order_id, status):
    with h.engine.begin() as conn:
        conn.execute(sa.update(h.t("order")).where(h.t("order").c.order_id == order_id).values(order_status_id=status))


def scalar(h, sql, **params):
    with h.engine.connect() as conn:
        return conn.execute(sa.text(sql), params).scalar()
