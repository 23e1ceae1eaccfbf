"""Netgsm Netsantral inbound calls (status by SMS or voice message, transfer); the recent-calls page and settings form."""

from __future__ import annotations

import datetime as dt
import json

import httpx
import pytest
from django.test import Client
from integrations.order_lookup.lookup_helpers import add_order, index, pbx_url

from ocbridge.core import clock
from ocbridge.core.jobs import run_until_idle
from ocbridge.core.choices import Level
from ocbridge.core.models import Exchange, Integration, SideEffect
from ocbridge.integrations.order_lookup.choices import CallOutcome, Reason
from ocbridge.integrations.order_lookup.mappers import TEXTS
from ocbridge.integrations.order_lookup.models import LookupCall

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def netgsm_sim():
    from ocbridge.simulators.netgsm import NetgsmSimulator

    with NetgsmSimulator(usercode="8503001122", password="ng-pass", msgheaders=("SHOP",), speed=200) as sim:
        sim.set_customer_defaults(sms_replies=[None], calls=["no_answer"])
        yield sim


@pytest.fixture
def netgsm_line(make_line, netgsm_sim):
    def make(store, **settings):
        conn = make_line(store, "netgsm", secret={"usercode": "8503001122", "password": "ng-pass"}, **settings)
        conn.base_url, conn.options = netgsm_sim.base_url, {"msgheader": "SHOP"}
        conn.save()
        return conn

    return make


def owner_of(store, name):
    """A dashboard user who owns this store (core.access: users see only their stores)."""
    from django.contrib.auth.models import User

    from ocbridge.core.models import StoreMember

    user = User.objects.create_user(name, password="x")
    StoreMember.objects.create(store=store, user=user, role="owner")
    return user


def _call_in(sim, conn, caller: str) -> dict:
    event = sim.inbound_call(conn.webhook_url("pbx-event"), caller)
    assert sim.wait_idle(5) and sim.sent_webhooks()[-1].status == 200
    run_until_idle()
    return event


def test_netgsm_caller_gets_the_status_by_sms_and_is_transferred_once(hub, netgsm_sim, opencart_db, make_store,
                                                                       netgsm_line):
    h = opencart_db("3.0")
    store = make_store(h)
    conn = netgsm_line(store)
    add_order(h, 1001, telephone="0532 123 45 67", status=3)
    index(store)
    event = _call_in(netgsm_sim, conn, "05321234567")
    (sms,) = netgsm_sim.sms_messages()
    assert sms["number"] == "5321234567" and "1001" in sms["msg"] and "Kargoya Verildi" in sms["msg"]
    assert sms["msg"].startswith("Demo Mağaza: ")
    assert not any(TEXTS["tr"][k].split("{")[0][:12] in sms["msg"] for k in ("menu_last", "menu_more", "greeting"
                                                                                ) if k in TEXTS["tr"])  # no keypad menu
    assert [(t["exten"], t["unique_id"]) for t in netgsm_sim.transfers()] == [("902129630131", event["unique_id"])]
    httpx.post(conn.webhook_url("pbx-event"), json=event)  # Netsantral repeats the event: nothing twice
    run_until_idle()
    assert len(netgsm_sim.sms_messages()) == 1 and len(netgsm_sim.transfers()) == 1
    call = LookupCall.objects.get()
    assert (call.service, call.caller, call.outcome, call.reason, call.order_id) == (
        "netgsm", "+905321234567", CallOutcome.TRANSFERRED, Reason.SENT_SMS, 1001)
    assert "[SMS]" in call.spoken and "[transfer to 902129630131]" in call.spoken
    effects = {e.kind: e for e in SideEffect.objects.all()}  # each made once through the outbox
    assert sorted(effects) == ["call_transfer", "sms"] and {e.state for e in effects.values()} == {"sent"}
    assert netgsm_sim.transfers()[0]["crm_id"] == str(effects["call_transfer"].correlation)
    from ocbridge.core.models import Job
    from ocbridge.integrations.order_lookup.netgsm import SendStatus

    job = Job.objects.get(kind=SendStatus.kind)
    SendStatus().run(job)  # a repeated run of the job: the outbox row is past sending, nothing is sent again
    assert len(netgsm_sim.sms_messages()) == 1


def test_netgsm_voice_message_when_the_owner_chose_it(hub, netgsm_sim, opencart_db, make_store, netgsm_line):
    h = opencart_db("3.0")
    store = make_store(h)
    conn = netgsm_line(store, netgsm_answer="voice", rep_target="queue/100")  # a queue has no number: no transfer
    add_order(h, 1002, telephone="+90 532 123 45 67", status=3)
    index(store)
    _call_in(netgsm_sim, conn, "905321234567")
    (voice,) = netgsm_sim.voice_calls()
    assert (voice["numbers"], voice["key"], voice["keys"]) == (["5321234567"], False, {})
    assert "1002" in voice["text"] and netgsm_sim.sms_messages() == [] and netgsm_sim.transfers() == []
    call = LookupCall.objects.get()
    assert (call.outcome, call.reason) == (CallOutcome.ANSWERED, Reason.SENT_VOICE)


def test_netgsm_caller_without_orders_or_over_the_limit_gets_nothing_but_the_person(hub, netgsm_sim, opencart_db,
                                                                                   make_store, netgsm_line):
    h = opencart_db("3.0")
    store = make_store(h)
    conn = netgsm_line(store, rate_limit=2)
    add_order(h, 1003, telephone="05321234567", status=3)
    index(store)
    _call_in(netgsm_sim, conn, "05449876543")  # no order for this number
    for _ in range(3):
        _call_in(netgsm_sim, conn, "05321234567")
    assert len(netgsm_sim.sms_messages()) == 2  # the third lookup is over the rate limit (same rule as spoken)
    assert len(netgsm_sim.transfers()) == 4
    reasons = list(LookupCall.objects.order_by("pk").values_list("reason", flat=True))
    assert reasons == [Reason.NOT_FOUND, Reason.SENT_SMS, Reason.SENT_SMS, Reason.RATE_LIMITED]


def test_netgsm_without_a_representative_the_pbx_keeps_the_call(hub, netgsm_sim, opencart_db, make_store,
                                                                 netgsm_line):
    h = opencart_db("3.0")
    store = make_store(h)
    conn = netgsm_line(store, rep_target="")
    _call_in(netgsm_sim, conn, "05449876543")
    call = LookupCall.objects.get()
    assert (call.outcome, call.reason) == (CallOutcome.NOT_HANDLED, Reason.NOT_FOUND)
    assert netgsm_sim.transfers() == [] and netgsm_sim.sms_messages() == []
    assert Exchange.objects.filter(purpose="netgsm.pbx-event", level=Level.WARNING).count() == 1
    assert httpx.post(conn.webhook_url("pbx-event"), content=b"not json").status_code == 200


def test_recent_calls_page_counts_calls_answered_without_a_person(hub, verimor, opencart_db, make_store, make_line):
    from django.contrib.auth.models import User

    h = opencart_db("3.0")
    store = make_store(h)
    conn = make_line(store)
    add_order(h, 1001, telephone="0532 123 45 67")
    index(store)
    verimor.pbx_call(pbx_url(conn), "05321234567", digits=[""])  # answered
    verimor.pbx_call(pbx_url(conn), "05321234567", digits=["0"])  # transferred
    verimor.pbx_call(pbx_url(conn), "05449876543", digits=[])  # asked for a number, then nothing
    LookupCall.objects.filter(caller="+905449876543").update(updated=clock.now() - dt.timedelta(hours=1),
                                                             outcome=CallOutcome.IN_PROGRESS)
    client = Client()
    client.force_login(owner_of(store, "owner"))
    page = client.get("/order-lookup/calls/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="answered-count">1<' in html
    assert 'data-outcome="transferred">1<' in html and 'data-outcome="hung_up">1<' in html
    assert "+90532*****67" in html and "05321234567" not in html  # callers are shown shortened
    assert "Kargoya Verildi" in html
    assert client.get("/order-lookup/calls/?outcome=answered").content.decode().count("data-call=") == 1


def test_settings_form_reads_statuses_from_the_shop_and_saves(opencart_db, make_store, make_line):
    from ocbridge.integrations.order_lookup.forms import OrderLookupForm

    store = make_store(opencart_db("4.0"))
    make_line(store)
    integration = Integration.objects.get(store=store, kind="order_lookup")
    form = OrderLookupForm.from_integration(integration)
    assert "Kargoya Verildi (3)" in dict(form.fields["spoken_statuses"].choices).values()
    data = {**{k: v for k, v in form.initial.items() if isinstance(v, (str, int, bool))},
            "lines": "0850 123 45 67", "language": "ru", "spoken_statuses": ["3", "5"], "days_back": "60",
            "max_orders": "2", "rep_target": "queue/100", "phrase_3": "kargoda", "read_date": "on"}
    bad = OrderLookupForm.from_integration(integration, data=data)
    assert not bad.is_valid() and "language" in bad.errors  # Verimor has no Russian text-to-speech
    good = OrderLookupForm.from_integration(integration, data={**data, "language": "tr"})
    assert good.is_valid(), good.errors
    cfg = good.save(integration, "owner")
    integration.refresh_from_db()
    assert integration.settings["lines"] == ["08501234567"] and integration.settings["spoken_statuses"] == [3, 5]
    assert cfg.status_phrases == {"3": {"tr": "kargoda"}} and cfg.days_back == 60
    wrong = OrderLookupForm.from_integration(integration, data={**data, "language": "tr", "rep_target": "nobody"})
    assert not wrong.is_valid() and "rep_target" in wrong.errors


def test_overview_card_counts_answered_calls(db, opencart_db, make_store):
    from ocbridge.dashboard.overview import Period
    from ocbridge.integrations.order_lookup.views import overview_card

    store = make_store(opencart_db("3.0"))
    period = Period.last(7, dt.UTC)
    assert overview_card(store, period) is None
    for i, outcome in enumerate([CallOutcome.ANSWERED, CallOutcome.ANSWERED, CallOutcome.TRANSFERRED]):
        LookupCall.objects.create(store=store, service="verimor", call_id=f"c{i}", outcome=outcome)
    card = overview_card(store, period)
    assert card["value"] == "2 / 3" and card["link"] == f"/order-lookup/calls/?store={store.pk}"


def test_dashboard_settings_page_shows_the_form(opencart_db, make_store, make_line):
    from django.contrib.auth.models import User

    store = make_store(opencart_db("3.0"))
    make_line(store)
    client = Client()
    client.force_login(owner_of(store, "owner2"))
    page = client.get(f"/stores/{store.pk}/integrations/order_lookup/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Kargoya Verildi" in html and "rep_target" in html


def test_netgsm_caller_on_the_do_not_contact_list_gets_no_sms_or_call_back(hub, netgsm_sim, opencart_db, make_store,
                                                                          netgsm_line):
    from ocbridge.core import optouts
    from ocbridge.core.models import Job
    from ocbridge.integrations.order_lookup.netgsm import SendStatus

    h = opencart_db("3.0")
    store = make_store(h)
    conn = netgsm_line(store)
    add_order(h, 1004, telephone="05321234567", status=3)
    add_order(h, 1005, telephone="05441112233", status=3)
    add_order(h, 1006, telephone="05557778899", status=3)
    index(store)
    optouts.add(store, "+905321234567", scope="all")  # nothing at all
    optouts.add(None, "+905441112233", scope="messages")  # hub-wide, texts only: the voice message still may go
    _call_in(netgsm_sim, conn, "05321234567")
    _call_in(netgsm_sim, conn, "05441112233")
    assert netgsm_sim.sms_messages() == []
    assert [v["numbers"] for v in netgsm_sim.voice_calls()] == [["5441112233"]]
    assert len(netgsm_sim.transfers()) == 2  # their own live call still reaches a person
    reasons = list(LookupCall.objects.order_by("pk").values_list("reason", flat=True))
    assert reasons == [Reason.OPTED_OUT, Reason.SENT_VOICE]
    assert "do-not-contact" in LookupCall.objects.order_by("pk").first().spoken

    # opted out between the call (decided at once) and the send (a job): the queued SMS is withdrawn, never sent
    netgsm_sim.inbound_call(conn.webhook_url("pbx-event"), "05557778899")
    assert netgsm_sim.wait_idle(5)
    optouts.add(store, "+905557778899", scope="messages", source="reply", reply="STOP")
    run_until_idle()
    assert netgsm_sim.sms_messages() == [] and netgsm_sim.voice_calls()[-1]["numbers"] == ["5441112233"]
    job = Job.objects.filter(kind=SendStatus.kind).order_by("-pk").first()
    assert SideEffect.objects.get(key=job.key).state == "cancelled"
    assert LookupCall.objects.order_by("-pk").first().reason == Reason.OPTED_OUT


def test_a_shared_netgsm_account_answers_each_call_for_the_store_whose_line_was_called(hub, netgsm_sim, opencart_db,
                                                                                      make_store, netgsm_line):
    from ocbridge.integrations.order_lookup.flow import store_for_line

    h_a, h_b = opencart_db("3.0"), opencart_db("4.0")
    a, b = make_store(h_a, name="Mağaza A"), make_store(h_b, name="Mağaza B")
    conn = netgsm_line(a, lines=["08501112233"])
    conn.shared_with.add(b)
    Integration.objects.create(store=b, kind="order_lookup", connection=conn,
                               settings={"rep_target": "+902129630131", "days_back": 30, "lines": ["08503334455"]})
    add_order(h_a, 1001, telephone="0532 123 45 67", status=3)
    add_order(h_b, 2001, telephone="0532 123 45 67", status=3)  # the same customer in both shops
    index(a)
    index(b)
    event = netgsm_sim.inbound_call(conn.webhook_url("pbx-event"), "05321234567", incoming_number="8503334455")
    assert netgsm_sim.wait_idle(5) and netgsm_sim.sent_webhooks()[-1].status == 200
    run_until_idle()
    call = LookupCall.objects.get(call_id=event["unique_id"])
    assert (call.store, call.order_id) == (b, 2001)
    (sms,) = netgsm_sim.sms_messages()
    assert "2001" in sms["msg"] and "1001" not in sms["msg"] and sms["msg"].startswith("Mağaza B")
    assert Exchange.objects.get(pk=call.exchange_id).store == b  # B's caller is in B's log, not in A's
    assert store_for_line(conn, "908501112233")[0] == a
    assert store_for_line(conn, "08509999999")[0] == a  # a line nobody lists: the account's own store checks it
