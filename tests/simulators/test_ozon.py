"""Ozon simulator: auth, batch limits, async import task states, per-item errors, rate limits, pagination."""

from __future__ import annotations

import time

import httpx
import pytest

from ocbridge.simulators.ozon import OzonSimulator, _iso

CID, KEY = "123456", "00000000-0000-4000-8000-00000000a11e"
H = {"Client-Id": CID, "Api-Key": KEY}


@pytest.fixture
def sim():
    with OzonSimulator() as s:
        yield s


def post(sim, path, body, headers=H):
    return httpx.post(sim.base_url + path, json=body, headers=headers)


def card(offer="A-1", **over):
    item = {"offer_id": offer, "name": "Phone", "description_category_id": 17028922, "type_id": 94765, "price": "100.00",
            "old_price": "0", "currency_code": "RUB", "vat": "0", "images": [], "primary_image": "https://x/a.jpg",
            "depth": 100, "width": 50, "height": 10, "dimension_unit": "mm", "weight": 200, "weight_unit": "g",
            "attributes": [{"id": 85, "values": [{"dictionary_value_id": 5000004, "value": "Acme"}]},
                           {"id": 9048, "values": [{"value": "X1"}]}]}
    item.update(over)
    return item


def import_and_wait(sim, items):
    task = post(sim, "/v3/product/import", {"items": items}).json()["result"]["task_id"]
    first = post(sim, "/v1/product/import/info", {"task_id": task}).json()["result"]["items"]
    second = post(sim, "/v1/product/import/info", {"task_id": task}).json()["result"]["items"]
    return first, second


def test_wrong_api_key_is_403_with_grpc_body(sim):
    r = post(sim, "/v2/warehouse/list", {"limit": 200}, headers={"Client-Id": CID, "Api-Key": "wrong"})
    assert r.status_code == 403 and r.json()["code"] == 7


def test_import_is_pending_then_imported_or_failed_per_item(sim):
    bad = card("B-2", attributes=[{"id": 9048, "values": [{"value": "X"}]}])
    first, second = import_and_wait(sim, [card(), bad])
    assert [i["status"] for i in first] == ["pending", "pending"]
    assert [i["status"] for i in second] == ["imported", "failed"]
    assert second[1]["errors"][0]["attribute_id"] == 85
    assert "A-1" in sim.products() and "B-2" not in sim.products()


def test_same_card_again_is_skipped(sim):
    import_and_wait(sim, [card()])
    _, again = import_and_wait(sim, [card()])
    assert again[0]["status"] == "skipped"


def test_import_over_100_items_is_400(sim):
    r = post(sim, "/v3/product/import", {"items": [card(f"O{i}") for i in range(101)]})
    assert r.status_code == 400 and "at most 100" in r.json()["message"]


def test_stock_pair_limited_to_once_per_30_seconds(sim):
    import_and_wait(sim, [card()])
    item = {"offer_id": "A-1", "stock": 5, "warehouse_id": 1020000000001}
    assert post(sim, "/v2/products/stocks", {"stocks": [item]}).json()["result"][0]["updated"] is True
    again = post(sim, "/v2/products/stocks", {"stocks": [item]}).json()["result"][0]
    assert (again["updated"], again["errors"][0]["code"]) == (False, "TOO_MANY_REQUESTS")
    sim.advance(31)
    assert post(sim, "/v2/products/stocks", {"stocks": [item]}).json()["result"][0]["updated"] is True


def test_stock_unknown_warehouse_is_item_error(sim):
    import_and_wait(sim, [card()])
    res = post(sim, "/v2/products/stocks", {"stocks": [{"offer_id": "A-1", "stock": 1, "warehouse_id": 9}]}).json()
    assert res["result"][0]["errors"][0]["code"] == "WAREHOUSE_NOT_FOUND"


def test_stocks_more_than_80_a_minute_is_429(sim):
    statuses = [post(sim, "/v2/products/stocks", {"stocks": []}).status_code for _ in range(81)]
    assert statuses[:80] == [200] * 80 and statuses[80] == 429
    assert sim.limit_hits()["stocks_rpm"] == 1


def test_price_limited_to_10_updates_an_hour(sim):
    import_and_wait(sim, [card()])
    results = [post(sim, "/v1/product/import/prices", {"prices": [{"offer_id": "A-1", "price": f"{100 + i}.00"}]})
               .json()["result"][0] for i in range(11)]
    assert [r["updated"] for r in results] == [True] * 10 + [False]
    sim.advance(3601)
    assert post(sim, "/v1/product/import/prices", {"prices": [{"offer_id": "A-1", "price": "1.00"}]}).json()["result"][0]["updated"]


def test_global_rate_limit_answers_429_code_8(sim):
    sim.set_rate_limit(2, burst=2)
    codes = [post(sim, "/v2/warehouse/list", {"limit": 200}) for _ in range(3)]
    assert [c.status_code for c in codes] == [200, 200, 429]
    assert codes[2].json()["code"] == 8 and codes[2].headers["Retry-After"]


# /v4/posting/fbs/list, checked 2026-12-06: Ozon's reference (docs.ozon.ru/api/seller/#operation/PostingFbsList,
# mirrored in github xmdragon/ozon-library docs/api/official/post-v4-posting-fbs-list-PostingFbsList.md): cursor in
# and out, limit 1..100, sort_dir, filter.statuses/warehouse_ids/last_changed_status_date; top-level postings[].
def test_v4_postings_page_by_cursor_until_has_next_false(sim):
    for i in range(5):
        sim.add_posting([{"offer_id": "A-1", "quantity": 1, "price": 10}], posting_number=f"P-{i}",
                        in_process_at=f"2020-06-0{i + 1}T10:00:00Z")
    body = {"filter": {"since": "2020-01-01T00:00:00Z", "to": "2020-12-01T00:00:00Z"}, "limit": 2, "sort_dir": "ASC"}
    pages, cursor = [], ""
    while True:
        r = post(sim, "/v4/posting/fbs/list", {**body, "cursor": cursor}).json()
        assert "result" not in r
        pages.append([p["posting_number"] for p in r["postings"]])
        if not r["has_next"]:
            break
        cursor = r["cursor"]
    assert pages == [["P-0", "P-1"], ["P-2", "P-3"], ["P-4"]]
    desc = post(sim, "/v4/posting/fbs/list", {**body, "sort_dir": "DESC", "limit": 100}).json()
    assert [p["posting_number"] for p in desc["postings"]] == ["P-4", "P-3", "P-2", "P-1", "P-0"]
    line = desc["postings"][0]["products"][0]
    assert line["price"] == {"amount": "10.00", "currency": "RUB"} and "currency_code" not in line


def test_v4_filters_statuses_warehouses_and_status_change_date(sim):
    sim.add_posting([{"offer_id": "A-1"}], posting_number="P-1", in_process_at="2020-06-01T10:00:00Z")
    sim.add_posting([{"offer_id": "A-1"}], posting_number="P-2", in_process_at="2020-06-01T10:00:00Z",
                    warehouse_id=1020000000001)
    sim.set_posting_status("P-2", "cancelled")
    window = {"since": "2020-01-01T00:00:00Z", "to": "2020-12-01T00:00:00Z"}
    by_status = post(sim, "/v4/posting/fbs/list", {"filter": {**window, "statuses": ["cancelled"]}, "limit": 100}).json()
    assert [p["posting_number"] for p in by_status["postings"]] == ["P-2"]
    other_wh = post(sim, "/v4/posting/fbs/list", {"filter": {**window, "warehouse_ids": [7]}, "limit": 100}).json()
    assert other_wh["postings"] == []
    now = time.time() + sim.offset
    changed = {"from": _iso(now - 60), "to": _iso(now + 60)}
    moved = post(sim, "/v4/posting/fbs/list", {"filter": {"last_changed_status_date": changed}, "limit": 100}).json()
    assert {p["posting_number"] for p in moved["postings"]} == {"P-1", "P-2"}


@pytest.mark.parametrize("body", [{"limit": 101}, {"limit": 0}, {"limit": 10, "offset": 0}, {"limit": 10}])
def test_v4_list_refuses_a_bad_limit_offset_paging_and_a_missing_window(sim, body):
    flt = {} if body == {"limit": 10} else {"filter": {"since": "2020-01-01T00:00:00Z", "to": "2020-02-01T00:00:00Z"}}
    assert post(sim, "/v4/posting/fbs/list", {**flt, **body}).status_code == 400


def test_posting_window_over_a_year_is_400(sim):
    r = post(sim, "/v4/posting/fbs/list", {"filter": {"since": "2020-01-01T00:00:00Z", "to": "2022-01-01T00:00:00Z"},
                                           "limit": 10})
    assert r.status_code == 400


def test_unfulfilled_v4_lists_open_postings_by_cutoff_never_both_filters(sim):
    sim.add_posting([{"offer_id": "A-1"}], posting_number="P-1", in_process_at="2020-06-01T10:00:00Z")
    sim.add_posting([{"offer_id": "A-1"}], posting_number="P-2", in_process_at="2020-06-01T10:00:00Z")
    sim.set_posting_status("P-2", "delivered")
    cutoff = {"cutoff_from": "2020-01-01T00:00:00Z", "cutoff_to": "2020-12-01T00:00:00Z"}
    r = post(sim, "/v4/posting/fbs/unfulfilled/list", {"filter": cutoff, "limit": 100}).json()
    assert ([p["posting_number"] for p in r["postings"]], r["count"], r["has_next"]) == (["P-1"], 1, False)
    both = {**cutoff, "delivering_date_from": "2020-01-01T00:00:00Z", "delivering_date_to": "2020-12-01T00:00:00Z"}
    assert post(sim, "/v4/posting/fbs/unfulfilled/list", {"filter": both, "limit": 100}).status_code == 400


@pytest.mark.parametrize("path, body", [("/v3/posting/fbs/list", {"filter": {}, "limit": 10}),
                                        ("/v3/posting/fbs/unfulfilled/list", {"filter": {}, "limit": 10}),
                                        ("/v1/warehouse/list", {})])
def test_switched_off_methods_are_refused(sim, path, body):
    r = post(sim, path, body)
    assert r.status_code == 404 and "switched off" in r.json()["message"]
    assert sim.limit_hits()["switched_off"] == 1


def test_warehouses_v2_need_a_limit_and_page_by_cursor(sim):
    sim.warehouses = [{"warehouse_id": i, "name": f"W{i}", "is_rfbs": False, "status": "created"} for i in range(3)]
    assert post(sim, "/v2/warehouse/list", {}).status_code == 400
    first = post(sim, "/v2/warehouse/list", {"limit": 2}).json()
    rest = post(sim, "/v2/warehouse/list", {"limit": 2, "cursor": first["cursor"]}).json()
    assert [w["warehouse_id"] for w in first["warehouses"] + rest["warehouses"]] == [0, 1, 2]
    assert (first["has_next"], rest["has_next"]) == (True, False)


def test_attribute_values_paginate_with_last_value_id(sim):
    body = {"attribute_id": 85, "description_category_id": 17028922, "type_id": 94765, "limit": 2000}
    first = post(sim, "/v1/description-category/attribute/values", body).json()
    rest = post(sim, "/v1/description-category/attribute/values", {**body, "last_value_id": first["result"][-1]["id"]}).json()
    assert (len(first["result"]), first["has_next"]) == (2000, True)
    assert (len(rest["result"]), rest["has_next"]) == (1000, False)


def test_cancelled_posting_carries_cancellation(sim):
    sim.add_posting([{"offer_id": "A-1"}], posting_number="P-1")
    sim.set_posting_status("P-1", "cancelled")
    got = post(sim, "/v3/posting/fbs/get", {"posting_number": "P-1"}).json()["result"]
    assert got["status"] == "cancelled" and got["cancellation"]["cancellation_initiator"] == "Клиент"


def _posting(sim, number="20001-0001-1", **kw):
    return sim.add_posting([{"offer_id": "A-1", "quantity": 2}, {"offer_id": "B-2", "quantity": 1}],
                           posting_number=number, **kw)


def _packages(posting):
    return [{"products": [{"product_id": p["sku"], "quantity": p["quantity"]} for p in posting["products"]]}]


def test_ship_packs_awaiting_packaging_into_awaiting_deliver(sim):
    p = _posting(sim)
    assert p["available_actions"] == ["ship", "cancel"]
    r = post(sim, "/v4/posting/fbs/ship", {"posting_number": p["posting_number"], "packages": _packages(p)})
    assert r.status_code == 200 and r.json()["result"] == [p["posting_number"]]
    got = post(sim, "/v3/posting/fbs/get", {"posting_number": p["posting_number"]}).json()["result"]
    assert (got["status"], got["available_actions"]) == ("awaiting_deliver", ["cancel"])
    assert isinstance(got["products"][0]["price"], str) and got["products"][0]["currency_code"] == "RUB"  # v3 get
    again = post(sim, "/v4/posting/fbs/ship", {"posting_number": p["posting_number"], "packages": _packages(p)})
    assert again.status_code == 400 and again.json()["code"] == 3  # ship no longer in available_actions


def test_ship_with_packages_not_matching_the_posting_is_400(sim):
    p = _posting(sim)
    wrong = [{"products": [{"product_id": p["products"][0]["sku"], "quantity": 1}]}]
    assert post(sim, "/v4/posting/fbs/ship", {"posting_number": p["posting_number"], "packages": wrong}).status_code == 400


def test_ship_failed_answers_200_and_leaves_substatus(sim):
    p = _posting(sim)
    sim.fail_ship(p["posting_number"])
    assert post(sim, "/v4/posting/fbs/ship", {"posting_number": p["posting_number"], "packages": _packages(p)}).status_code == 200
    got = post(sim, "/v3/posting/fbs/get", {"posting_number": p["posting_number"]}).json()["result"]
    assert (got["status"], got["substatus"]) == ("awaiting_packaging", "ship_failed")


def test_awaiting_delivery_only_moves_disputed_postings_back(sim):
    packed, disputed = _posting(sim, "1-1-1", status="awaiting_deliver"), _posting(sim, "2-2-2", status="arbitration")
    assert post(sim, "/v2/posting/fbs/awaiting-delivery", {"posting_number": [packed["posting_number"]]}).status_code == 400
    assert post(sim, "/v2/posting/fbs/awaiting-delivery", {"posting_number": ["2-2-2"]}).json() == {"result": True}
    assert post(sim, "/v3/posting/fbs/get", {"posting_number": "2-2-2"}).json()["result"]["status"] == "awaiting_deliver"


# rFBS with the seller's own delivery, checked 2026-12-06 against Ozon's reference (operations
# PostingAPI_FbsPostingTrackingNumberSet / Delivering / LastMile / Delivered): per-posting result[] inside a 200.
def test_rfbs_tracking_then_delivering_last_mile_delivered(sim):
    p = _posting(sim, "3-3-3", status="awaiting_deliver", rfbs=True)
    assert p["tpl_integration_type"] == "non_integrated"
    n = p["posting_number"]
    empty = post(sim, "/v2/fbs/posting/tracking-number/set", {"tracking_numbers": [{"posting_number": n, "tracking_number": ""}]})
    assert empty.json()["result"][0]["result"] is False
    ok = post(sim, "/v2/fbs/posting/tracking-number/set", {"tracking_numbers": [{"posting_number": n, "tracking_number": "TRK1"}]})
    assert ok.json() == {"result": [{"error": "", "posting_number": n, "result": True}]}
    early = post(sim, "/v2/fbs/posting/delivered", {"posting_number": [n]}).json()["result"][0]
    assert early["result"] is False and early["error"]
    for path, status in (("delivering", "delivering"), ("last-mile", "delivering"), ("delivered", "delivered")):
        r = post(sim, f"/v2/fbs/posting/{path}", {"posting_number": [n]}).json()
        assert r == {"result": [{"error": [], "posting_number": n, "result": True}]}
        assert post(sim, "/v3/posting/fbs/get", {"posting_number": n}).json()["result"]["status"] == status
    got = post(sim, "/v3/posting/fbs/get", {"posting_number": n}).json()["result"]
    assert got["tracking_number"] == "TRK1"


def test_fbs_posting_refuses_the_rfbs_steps(sim):
    p = _posting(sim, "4-4-4", status="awaiting_deliver")
    r = post(sim, "/v2/fbs/posting/delivering", {"posting_number": [p["posting_number"]]}).json()["result"][0]
    assert r["result"] is False


# /v1/returns/list (Ozon reference operation returnsList, checked 2026-12-06; News 2025-02-18 names it the
# replacement of /v3/returns/company/fbs): one date filter, last_id paging, limit <= 500.
def test_returns_list_by_change_moment_with_last_id_paging(sim):
    _posting(sim, "5-5-5")
    for _ in range(3):
        sim.add_return("5-5-5", offer_id="A-1")
    now = time.time() + sim.offset
    flt = {"visual_status_change_moment": {"time_from": _iso(now - 60), "time_to": _iso(now + 60)}, "return_schema": "FBS"}
    first = post(sim, "/v1/returns/list", {"filter": flt, "limit": 2, "last_id": 0}).json()
    rest = post(sim, "/v1/returns/list", {"filter": flt, "limit": 2, "last_id": int(first["returns"][-1]["id"])}).json()
    assert (len(first["returns"]), first["has_next"], len(rest["returns"]), rest["has_next"]) == (2, True, 1, False)
    assert first["returns"][0]["posting_number"] == "5-5-5" and first["returns"][0]["product"]["offer_id"] == "A-1"
    two = {**flt, "logistic_return_date": flt["visual_status_change_moment"]}
    assert post(sim, "/v1/returns/list", {"filter": two, "limit": 10}).status_code == 400
    assert post(sim, "/v1/returns/list", {"filter": flt, "limit": 501}).status_code == 400


def test_cancel_needs_a_known_reason_and_a_message_for_402(sim):
    p = _posting(sim)
    n = p["posting_number"]
    assert post(sim, "/v2/posting/fbs/cancel", {"posting_number": n, "cancel_reason_id": 1}).status_code == 400
    assert post(sim, "/v2/posting/fbs/cancel", {"posting_number": n, "cancel_reason_id": 402}).status_code == 400
    ok = post(sim, "/v2/posting/fbs/cancel", {"posting_number": n, "cancel_reason_id": 402, "cancel_reason_message": "x"})
    assert ok.json() == {"result": True}
    got = post(sim, "/v3/posting/fbs/get", {"posting_number": n}).json()["result"]
    assert got["status"] == "cancelled" and got["cancellation"]["cancellation_type"] == "seller"
    assert post(sim, "/v2/posting/fbs/cancel", {"posting_number": n, "cancel_reason_id": 352}).status_code == 400
    assert any(r["id"] == 402 for r in post(sim, "/v2/posting/fbs/cancel-reason/list", {}).json()["result"])
    other = _posting(sim, "20002-0001-1")
    unavailable = post(sim, "/v2/posting/fbs/cancel", {"posting_number": other["posting_number"], "cancel_reason_id": 401})
    assert unavailable.status_code == 400  # listed, but is_available_for_cancellation is false


def test_daily_create_quota_fails_items_with_item_limit_exceeded(sim):
    sim.set_import_pending_polls(0)
    sim.set_product_limits(daily_create=1)
    first, _ = import_and_wait(sim, [card("A-1"), card("A-2")])
    assert [(i["offer_id"], i["status"]) for i in first] == [("A-1", "imported"), ("A-2", "failed")]
    assert first[1]["errors"][0]["code"] == "item_limit_exceeded"
    limits = post(sim, "/v4/product/info/limit", {}).json()
    assert (limits["daily_create"]["usage"], limits["daily_create"]["limit"], limits["total"]["usage"]) == (1, 1, 1)
