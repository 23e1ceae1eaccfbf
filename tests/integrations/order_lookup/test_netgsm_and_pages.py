"""Netgsm Netsantral events are recorded (no decision API to answer with); the recent-calls page and settings form."""

from __future__ import annotations

import datetime as dt
import json

import httpx
import pytest
from django.test import Client
from integrations.order_lookup.lookup_helpers import add_order, index, pbx_url

from ocbridge.core import clock
from ocbridge.core.choices import Level
from ocbridge.core.models import Exchange, Integration
from ocbridge.integrations.order_lookup.choices import CallOutcome, Reason
from ocbridge.integrations.order_lookup.models import LookupCall

pytestmark = pytest.mark.django_db(transaction=True)


def test_netgsm_inbound_call_event_is_recorded_as_not_handled(hub, opencart_db, make_store, make_line):
    store = make_store(opencart_db("3.0"))
    conn = make_line(store, "netgsm", secret={"usercode": "8503000000", "password": "p"})
    url = conn.webhook_url("pbx-event")
    inbound = {"pbx_num": "101", "unique_id": "1428481992.3556", "scenario": "Inbound_call",
               "customer_num": "05321234567", "timestamp": "1652080580926"}
    dtmf = {"Context": "XX.XX", "pbx_num": "2129630131", "unique_id": "1428481992.3556", "scenario": "DTMF",
            "digit": "0", "timestamp": "1652080580926"}
    for event in (inbound, dtmf, inbound):
        resp = httpx.post(url, content=json.dumps(event), headers={"Content-Type": "application/json"})
        assert (resp.status_code, resp.text) == (200, "OK")
    call = LookupCall.objects.get()
    assert (call.service, call.caller, call.outcome, call.reason) == (
        "netgsm", "+905321234567", CallOutcome.NOT_HANDLED, Reason.NO_DECISION_API)
    assert Exchange.objects.filter(purpose="netgsm.pbx-event", level=Level.WARNING).count() == 2
    assert httpx.post(url, content=b"not json").status_code == 200


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
    client.force_login(User.objects.create_user("owner", password="x"))
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
    client.force_login(User.objects.create_user("owner2", password="x"))
    page = client.get(f"/stores/{store.pk}/integrations/order_lookup/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Kargoya Verildi" in html and "rep_target" in html
