"""Pure planning rules: change detection, missing data, per-item limits, posting window."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from ocbridge.integrations.ozon import mappers, rules
from ocbridge.integrations.ozon.config import OzonConfig

NOW = datetime(2025, 5, 1, 12, 0, tzinfo=timezone.utc)
ATTRS = {(1, 2): [{"id": 85, "name": "Brand", "is_required": True}]}


def cfg(**kw):
    return OzonConfig(warehouse_ids=[7], category_map={"20": {"description_category_id": 1, "type_id": 2}},
                      attribute_map={"85": {"source": "manufacturer"}}, image_base_url="https://s", **kw)


def row(pid=1, **kw):
    r = {"product_id": pid, "model": f"M{pid}", "quantity": 3, "price": "10", "special": None, "weight": "2",
         "weight_unit": "lb", "length": "1", "width": "1", "height": "1", "length_unit": "in", "image": "a.jpg",
         "images": [], "manufacturer": "Acme", "name": "P", "description": "", "category_ids": [20], "attributes": {}}
    r.update(kw)
    return r


def test_units_are_converted_to_grams_and_millimetres():
    item, _ = mappers.product_item(row(), cfg(), {"description_category_id": 1, "type_id": 2})
    assert (item["weight"], item["depth"]) == (907, 25)


def test_price_change_alone_does_not_resend_the_card():
    first = rules.plan_products([row()], {}, cfg(), ATTRS)
    bindings = {1: (first.hashes["M1"], {})}
    assert rules.plan_products([row(price="11")], bindings, cfg(), ATTRS).send == []


def test_missing_brand_and_unmapped_category_are_listed():
    plan = rules.plan_products([row(1, manufacturer=""), row(2, category_ids=[99])], {}, cfg(), ATTRS)
    assert any("85" in r for r in plan.missing[1])
    assert any("category" in r for r in plan.missing[2])


def test_stock_pair_sent_less_than_30s_ago_waits():
    plan = rules.plan_stocks([row(quantity=9)], {1: "M1"}, {"1:7": ("3", NOW - timedelta(seconds=10))}, cfg(), NOW)
    assert plan.send == [] and 19 < plan.wait_seconds <= 20


def test_price_at_10_updates_this_hour_waits():
    times = [(NOW - timedelta(minutes=m)).isoformat() for m in range(10)]
    plan = rules.plan_prices([row(price="12")], {1: "M1"}, {1: ("10.00|0", times)}, cfg(), NOW)
    assert plan.send == [] and plan.wait_seconds > 0


def test_posting_window_overlaps_the_last_one():
    since, to = rules.posting_window(NOW - timedelta(minutes=5), NOW, cfg(poll_overlap_minutes=30))
    assert (to - since) == timedelta(minutes=35)


def test_special_price_becomes_price_with_old_price():
    assert mappers.prices_of(row(special="8"), cfg()) == ("8.00", "10.00")


def test_tracking_number_sources_in_the_owners_order_of_trust(monkeypatch):
    from ocbridge.core import registry
    from ocbridge.integrations.ozon import tracking

    pattern = r"(?:tracking|track|трек|takip)(?: no| номер)?[^A-Z0-9]{0,5}([A-Z0-9-]{6,40})"
    assert tracking.from_comments(pattern, ["Kargoya verildi, takip no: TR-99887766", "paid"]) == "TR-99887766"
    assert tracking.from_comments(pattern, ["трек RU123456789", "no number here"]) == "RU123456789"
    assert tracking.from_comments("", ["track RU123456789"]) is None
    monkeypatch.setattr(registry, "order_facts", {})  # no integration knows the order
    data = {"tracking_comment": "RU1", "tracking_typed": "TYPED1"}
    assert tracking.find(None, 1, data) == ("RU1", tracking.COMMENT)
    assert tracking.find(None, 1, {"tracking_typed": " TYPED1 "}) == ("TYPED1", tracking.TYPED)
    # what another integration knows of the order (Despatch Cloud's booked parcel) wins, named by it
    monkeypatch.setattr(registry, "order_facts", {"despatch": lambda store, order_id: {
        "tracking_code": "DC-1", "courier": "Royal Mail", "tracking_by": "Despatch Cloud"}})
    assert tracking.find(None, 1, data) == ("DC-1", "Despatch Cloud")
