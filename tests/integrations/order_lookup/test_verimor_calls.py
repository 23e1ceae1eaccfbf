"""Verimor "Santral Programlama": the simulated PBX calls our decision URL over HTTP; shops on MariaDB 2.3–4.0."""

from __future__ import annotations

import time

import httpx
import pytest
from django.urls import reverse
from integrations.order_lookup.lookup_helpers import add_order, index, pbx_url
from testkit import assert_page_reads

from ocbridge.core.choices import Level
from ocbridge.core.models import Exchange
from ocbridge.integrations.order_lookup import shop
from ocbridge.integrations.order_lookup.choices import CallOutcome, Reason
from ocbridge.integrations.order_lookup.models import LookupCall

pytestmark = pytest.mark.django_db(transaction=True)
CALLER = "05321234567"  # Verimor's national form of +905321234567
OTHER = "0 (544) 987 65 43"


def phrases(transcript: list[dict]) -> list[str]:
    out = []
    for entry in transcript:
        body = next(iter((entry["response"] or {}).values()), {})
        out.append(body.get("phrase") or body.get("greet_phrase") or "")
    return out


def test_one_order_status_spoken_then_goodbye(hub, verimor, shop_db, make_store, make_line):
    store = make_store(shop_db)
    conn = make_line(store)
    add_order(shop_db, 1001, telephone="0532 123 45 67", status=3)
    add_order(shop_db, 1002, telephone=OTHER, status=5)
    index(store)
    transcript = verimor.pbx_call(pbx_url(conn), CALLER, digits=[""])
    assert [e["problems"] for e in transcript] == [[], []]
    assert [e["action"] for e in transcript] == ["prompt", "transfer"]
    first, last = phrases(transcript)
    assert "1001 numaralı siparişinizin durumu: Kargoya Verildi." in first
    assert "Demo Mağaza" in first and "1'e" not in first and "0'a basınız" in first
    assert transcript[1]["response"]["transfer"]["target"] == "hangup/hangup"
    assert "teşekkür" in last
    call = LookupCall.objects.get()
    assert (call.outcome, call.order_id, call.caller, call.caller_raw) == (CallOutcome.ANSWERED, 1001, "+905321234567", CALLER)
    assert "Kargoya Verildi" in call.spoken and "1002" not in call.spoken
    assert call.exchange.level == Level.INFO and call.exchange.order_id == 1001


def test_several_orders_caller_hears_the_others_on_1(hub, verimor, shop_db, make_store, make_line):
    store = make_store(shop_db)
    conn = make_line(store, max_orders=3)
    add_order(shop_db, 2001, telephone="+90 532 123 4567", status=5, days_ago=9)
    add_order(shop_db, 2002, telephone="5321234567", status=2, days_ago=5)
    add_order(shop_db, 2003, telephone="0090 532 123 45 67", status=3, days_ago=1)
    add_order(shop_db, 2004, telephone="0532 123 45 67", status=0, days_ago=0)  # checkout never finished
    index(store)
    transcript = verimor.pbx_call(pbx_url(conn), CALLER, digits=["1", "1", ""])
    assert [e["action"] for e in transcript] == ["prompt", "prompt", "prompt", "transfer"]
    said = phrases(transcript)
    assert "2003 numaralı" in said[0] and "Kargoya Verildi" in said[0] and "1'e" in said[0]
    assert "2002 numaralı" in said[1] and "İşleniyor" in said[1] and "1'e" in said[1]
    assert "2001 numaralı" in said[2] and "Tamamlandı" in said[2] and "1'e" not in said[2]
    assert all("2004" not in s for s in said)
    assert LookupCall.objects.get().outcome == CallOutcome.ANSWERED


def test_zero_transfers_to_the_representative(hub, verimor, shop_db, make_store, make_line):
    store = make_store(shop_db)
    conn = make_line(store, rep_target="queue/100")
    add_order(shop_db, 3001, telephone="0532 123 45 67")
    index(store)
    transcript = verimor.pbx_call(pbx_url(conn), CALLER, digits=["0"])
    assert transcript[-1]["response"]["transfer"]["target"] == "queue/100"
    call = LookupCall.objects.get()
    assert (call.outcome, call.reason) == (CallOutcome.TRANSFERRED, Reason.REP_REQUESTED)


def test_no_order_keypad_number_with_matching_phone_is_spoken(hub, verimor, shop_db, make_store, make_line):
    store = make_store(shop_db)
    conn = make_line(store)
    index(store)
    add_order(shop_db, 4001, telephone="0 (532) 123 45 67", status=3)  # placed after the last index poll
    transcript = verimor.pbx_call(pbx_url(conn), CALLER, digits=["4001", ""])
    assert [e["action"] for e in transcript] == ["prompt", "prompt", "transfer"]
    said = phrases(transcript)
    assert "sipariş bulamadık" in said[0] and transcript[0]["response"]["prompt"]["max_digits"] >= 4
    assert "4001 numaralı siparişinizin durumu: Kargoya Verildi." in said[1]
    assert LookupCall.objects.get().outcome == CallOutcome.ANSWERED


def test_keypad_number_of_another_phone_is_never_spoken(hub, verimor, shop_db, make_store, make_line):
    store = make_store(shop_db)
    conn = make_line(store)
    add_order(shop_db, 5001, telephone=OTHER, status=3)
    index(store)
    transcript = verimor.pbx_call(pbx_url(conn), CALLER, digits=["5001"])
    assert [e["action"] for e in transcript] == ["prompt", "transfer"]
    assert transcript[-1]["response"]["transfer"]["target"] == "queue/100"
    assert "5001" not in phrases(transcript)[1] and "Kargo" not in phrases(transcript)[1]
    call = LookupCall.objects.get()
    assert (call.outcome, call.reason, call.order_id) == (CallOutcome.TRANSFERRED, Reason.PHONE_MISMATCH, None)
    assert "Kargo" not in call.spoken


def test_keypad_number_not_in_shop_goes_to_a_person(hub, verimor, shop_db, make_store, make_line):
    store = make_store(shop_db)
    conn = make_line(store)
    transcript = verimor.pbx_call(pbx_url(conn), CALLER, digits=["999999"])
    assert transcript[-1]["response"]["transfer"]["target"] == "queue/100"
    assert LookupCall.objects.get().reason == Reason.NOT_FOUND


@pytest.mark.parametrize("cli", ["", "anonymous", "1003", "0532"])
def test_hidden_or_malformed_caller_goes_to_a_person_with_a_warning(hub, verimor, opencart_db, make_store, make_line,
                                                                    cli):
    store = make_store(opencart_db("3.0"))
    conn = make_line(store)
    transcript = verimor.pbx_call(pbx_url(conn), cli)
    assert transcript[0]["problems"] == [] and transcript[0]["response"]["transfer"]["target"] == "queue/100"
    call = LookupCall.objects.get()
    assert (call.reason, call.lookups) == (Reason.HIDDEN_CALLER, 0)
    assert call.exchange.level == Level.WARNING


def test_unknown_called_number_goes_to_a_person(hub, verimor, opencart_db, make_store, make_line):
    store = make_store(opencart_db("3.0"))
    conn = make_line(store, lines=["0850 123 45 67"])
    transcript = verimor.pbx_call(pbx_url(conn), CALLER, called="902129999999")
    assert transcript[0]["response"]["transfer"]["target"] == "queue/100"
    assert LookupCall.objects.get().reason == Reason.UNKNOWN_LINE
    ok = verimor.pbx_call(pbx_url(conn), CALLER, called="908501234567")
    assert ok[0]["action"] == "prompt"


@pytest.mark.parametrize("query", ["cli=05321234567&cld=908501234567&step=1",
                                   "uuid=abc&cli=05321234567&cld=908501234567",
                                   "uuid=abc&cli=05321234567&step=x", ""])
def test_missing_uuid_or_step_still_answers_a_transfer(hub, opencart_db, make_store, make_line, query):
    store = make_store(opencart_db("3.0"))
    conn = make_line(store)
    resp = httpx.get(f"{pbx_url(conn)}?{query}")
    assert resp.status_code == 200
    assert resp.json() == {"transfer": {"target": "queue/100", "greet_phrase": "Sizi müşteri temsilcimize bağlıyoruz.",
                                        "lang": "tr-TR"}}
    ex = Exchange.objects.filter(purpose="verimor.call-decision").get()
    assert ex.level == Level.WARNING and "bad_request" in ex.error


def test_sixth_lookup_in_ten_minutes_goes_to_a_person(hub, verimor, opencart_db, make_store, make_line):
    h = opencart_db("3.0")
    store = make_store(h)
    conn = make_line(store)
    add_order(h, 6001, telephone="0532 123 45 67")
    index(store)
    for _ in range(5):
        assert "6001" in phrases(verimor.pbx_call(pbx_url(conn), CALLER, digits=[""]))[0]
    transcript = verimor.pbx_call(pbx_url(conn), CALLER, digits=[""])
    assert transcript[0]["response"]["transfer"]["target"] == "queue/100"
    assert "6001" not in phrases(transcript)[0]
    limited = LookupCall.objects.order_by("-id").first()
    assert (limited.reason, limited.exchange.level) == (Reason.RATE_LIMITED, Level.WARNING)
    other = verimor.pbx_call(pbx_url(conn), "05449876543")  # another number is not limited
    assert other[0]["action"] == "prompt"
    # The log says what the first steps found in the reader's language, counts in its plural form (before: English
    # for every reader, "1 order(s) for this number").
    found = Exchange.objects.filter(error__endswith="— 1 order for this number").first()
    assert_page_reads(reverse("dashboard:exchange", args=[found.pk]), {
        "en": "— 1 order for this number", "tr": "— bu numaraya ait 1 sipariş", "ru": "— 1 заказ на этот номер"},
        r'<td class="err wrap">.*?</td>', alone=True)
    assert_page_reads(reverse("dashboard:exchange", args=[limited.exchange_id]), {
        "en": "transfer: rate_limited — 5 lookups from this number in 10 min",
        "tr": "transfer: rate_limited — bu numaradan 10 dakikada 5 sorgu",
        "ru": "transfer: rate_limited — 5 запросов с этого номера за 10 мин"},
        r'<td class="err wrap">.*?</td>', alone=True)


def test_repeated_step_gets_the_same_answer_and_counts_once(hub, opencart_db, make_store, make_line):
    h = opencart_db("3.0")
    store = make_store(h)
    conn = make_line(store)
    add_order(h, 7001, telephone="0532 123 45 67")
    index(store)
    url = f"{pbx_url(conn)}?uuid=u-1&cli={CALLER}&cld=908501234567&step=1"
    first, again = httpx.get(url), httpx.get(url)
    assert first.json() == again.json() and "7001" in first.json()["prompt"]["phrase"]
    assert LookupCall.objects.get().lookups == 1


def test_store_database_down_goes_to_a_person_quickly(hub, verimor, make_store, make_line):
    class Down:
        url, prefix = "mysql+pymysql://root@127.0.0.1:9/nothing", "oc_"

    store = make_store(Down)
    conn = make_line(store)
    from ocbridge.opencart.models import PhoneIndex

    PhoneIndex.objects.create(store_db_key=store.db_key, store_id=0, e164="+905321234567", order_id=1,
                              created=store.created)
    transcript = verimor.pbx_call(pbx_url(conn), CALLER)
    assert transcript[0]["status"] == 200 and transcript[0]["response"]["transfer"]["target"] == "queue/100"
    call = LookupCall.objects.get()
    assert (call.reason, call.exchange.level) == (Reason.DB_DOWN, Level.WARNING)
    # "Quickly": the refusal itself is the answer, not the deadline (shop.py names the deadline only when the read
    # took that long) — judged by the hub's own clock, not the test's wall time, which a loaded machine stretches.
    error = call.exchange.error
    assert ("database" in error.lower() or "Operational" in error) and "did not answer within" not in error


def test_store_database_hanging_is_cut_off_at_the_deadline(hub, verimor, mariadb, opencart_db, make_store, make_line):
    h = opencart_db("3.0")
    store = make_store(h)
    conn = make_line(store)
    add_order(h, 8001, telephone="0532 123 45 67")
    index(store)
    verimor.webhook_timeout = 60.0  # the PBX's patience is not what is tested: a loaded machine must not cut the call
    mariadb.pause()
    try:
        started = time.monotonic()
        transcript = verimor.pbx_call(pbx_url(conn), CALLER)
        took = time.monotonic() - started
        again = verimor.pbx_call(pbx_url(conn), CALLER)  # cool-down: no second wait
    finally:
        mariadb.resume()
    assert transcript[0]["response"]["transfer"]["target"] == "queue/100"
    assert again[0]["response"]["transfer"]["target"] == "queue/100"
    first, second = LookupCall.objects.filter(reason=Reason.DB_DOWN).order_by("id")
    # Cut off by the deadline (the hub's own measure), well before the driver's 30 s read timeout would have ended it.
    assert f"did not answer within {shop.DEADLINE:.1f} s" in first.exchange.error
    assert took < shop.DEADLINE + 15
    # The second call did not wait again: the cool-down answered before any read of the shop.
    assert "not waiting for it again" in second.exchange.error


def test_a_bug_still_answers_a_transfer_not_a_500(hub, opencart_db, make_store, make_line, monkeypatch):
    from ocbridge.integrations.order_lookup import flow

    store = make_store(opencart_db("3.0"))
    conn = make_line(store)

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(flow, "decide", broken)
    resp = httpx.get(f"{pbx_url(conn)}?uuid=u&cli={CALLER}&cld=908501234567&step=1")
    assert resp.status_code == 200 and resp.json()["transfer"]["target"] == "queue/100"
    ex = Exchange.objects.get(purpose="verimor.call-decision")
    assert ex.level == Level.ERROR and "boom" in ex.error


def test_a_shop_restarted_between_two_calls_still_answers_the_second(hub, verimor, mariadb, shop_db, make_store,
                                                                     make_line):
    """A connection used moments ago is not pinged before the next call (opencart.db.PING_AFTER): when the server
    dropped it meanwhile, the read is tried once more on a new connection instead of sending the caller to a person."""
    store = make_store(shop_db)
    conn = make_line(store)
    add_order(shop_db, 1001, telephone="0532 123 45 67", status=3)
    index(store)
    assert "1001 numaralı" in phrases(verimor.pbx_call(pbx_url(conn), CALLER))[0]
    mariadb.restart()  # every connection the hub's pool holds is gone
    assert "1001 numaralı" in phrases(verimor.pbx_call(pbx_url(conn), CALLER))[0]
    assert not LookupCall.objects.filter(reason=Reason.DB_DOWN).exists()


def test_a_shop_on_a_server_older_than_mysql_5_6_is_answered(hub, verimor, mariadb, opencart_db, make_store,
                                                            make_line):
    """A 2.3 shop on MySQL 5.5 (no read-only sessions: testbed.old_mysql in front of the real MariaDB answers that
    statement as 5.5 does) still gets its order status spoken, not a transfer for a database "down"."""
    from ocbridge.opencart import db
    from ocbridge.testbed.old_mysql import OldMySQL

    h = opencart_db("2.3")
    with OldMySQL(mariadb.port) as old:
        url = old.url(h.url)
        try:
            store = make_store(h, db_url=url)
            conn = make_line(store)
            add_order(h, 1001, telephone="0532 123 45 67", status=3)
            index(store)
            assert "1001 numaralı" in phrases(verimor.pbx_call(pbx_url(conn), CALLER))[0]
            assert old.refused == 1 and not LookupCall.objects.filter(reason=Reason.DB_DOWN).exists()
        finally:
            db.forget(url)


def test_a_first_step_costs_three_hub_reads_and_one_write(client, opencart_db, make_store, make_line):
    """The order-status call's hot path (bench/lookup.py, a live caller waiting): whether the call's row exists, the
    caller's recent lookups and the phone index are read; the Exchange and the call's row are written in one
    transaction. Each statement more was measured CPU on every call: this keeps them from creeping back."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    h = opencart_db("3.0")
    store = make_store(h)
    conn = make_line(store)
    add_order(h, 1001, telephone="0532 123 45 67", status=3)
    index(store)
    path = pbx_url(conn)[pbx_url(conn).index("/hooks/"):]
    client.get(path, {"uuid": "warm", "cli": CALLER, "cld": "908501234567", "step": "1"})  # caches filled
    with CaptureQueriesContext(connection) as seen:
        answer = client.get(path, {"uuid": "u-2", "cli": CALLER, "cld": "908501234567", "step": "1"})
    assert "1001 numaralı siparişinizin durumu" in answer.json()["prompt"]["phrase"]
    statements = [q["sql"].split()[0].upper() for q in seen.captured_queries]
    assert statements == ["SELECT", "SELECT", "SELECT", "BEGIN", "INSERT", "INSERT", "COMMIT"], seen.captured_queries
