"""The risk score on the pages: the confirmations list and the overview's "need you" rows show each phone's score,
a phone's history page lists every order/attempt/outcome in the user's stores only; the overview counts returns of
confirmed vs not-confirmed orders (per channel) and the time customers take to answer each channel."""

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse

from ocbridge.core import clock
from ocbridge.dashboard import cod_stats
from ocbridge.integrations.cod_confirm import risk

pytestmark = pytest.mark.django_db
PHONE = "+905321234567"


def _store(name, share=False, **cfg):
    from ocbridge.core.models import Integration, Store
    from ocbridge.integrations.cod_confirm.config import CodConfirmConfig

    store = Store.objects.create(name=name, timezone="Europe/Istanbul")
    integ = Integration.objects.create(store=store, kind="cod_confirm",
                                       settings=CodConfirmConfig(risk_share=share, **cfg).to_settings())
    return store, integ


def _case(integ, order_id, state, *, customer="Ayşe", phone=PHONE, created=None, attempts=(), via=None, outcome=None):
    from ocbridge.integrations.cod_confirm.models import Attempt, Confirmation, OrderOutcome

    created = created or clock.now() - dt.timedelta(hours=2)
    c = Confirmation.objects.create(store=integ.store, integration=integ, order_id=order_id, order_label=str(order_id),
                                    customer_name=customer, phone=phone, status_at_start=1, state=state,
                                    created=created)
    for k, (channel, a_state, answered_after) in enumerate(attempts, 1):
        Attempt.objects.create(confirmation=c, number=k, channel=channel, service="sandbox",
                               key=f"k:{integ.store_id}:{order_id}:{k}", state=a_state, created=created,
                               answered_at=created + dt.timedelta(seconds=answered_after) if answered_after else None)
    if outcome:
        OrderOutcome.objects.create(store=integ.store, order_id=order_id, confirmation=c, phone=phone, outcome=outcome,
                                    status_id=12, history_id=order_id, confirmed_via=via or "")
    return c


def _viewer_of(store):
    from django.contrib.auth.models import User

    from ocbridge.core.models import StoreMember

    user = User.objects.filter(username=f"viewer-{store.pk}").first()
    if user is None:
        user = User.objects.create_user(f"viewer-{store.pk}", password="pw")
        StoreMember.objects.create(store=store, user=user, role="viewer")
    client = Client()
    client.force_login(user)
    return client


def test_phone_history_lists_only_the_users_stores_and_shared_counts_without_names():
    a, ia = _store("Mağaza A", share=True)
    b, ib = _store("Secret client B", share=True)
    _case(ia, 11, "confirmed", attempts=[("whatsapp", "answered", 40)], via="whatsapp", outcome="refused")
    _case(ib, 21, "cancelled", customer="Hidden Customer B", attempts=[("call", "answered", 10)])
    risk.record(a, PHONE, "refused")
    risk.record(b, PHONE, "cancelled")
    risk.record(b, PHONE, "refused")
    client = _viewer_of(a)
    page = client.get(reverse("dashboard:phone", args=[PHONE[1:]]))
    html = page.content.decode()
    assert page.status_code == 200
    assert "Mağaza A" in html and "Refused or returned" in html and "WhatsApp" in html
    assert "Secret client B" not in html and "Hidden Customer B" not in html and ">21<" not in html
    assert "2 refused" in html and "1 cancelled" in html  # B's outcomes as counts only (both share)
    # a number the user's stores never had: 404, the same whether another store has it or not
    assert client.get(reverse("dashboard:phone", args=["905329999999"])).status_code == 404
    only_b = _viewer_of(a).get(reverse("dashboard:phone", args=["905320000001"]))
    _case(ib, 22, "confirmed", phone="+905320000001")
    assert only_b.status_code == client.get(reverse("dashboard:phone", args=["905320000001"])).status_code == 404
    assert client.get("/phones/abc/").status_code == 404


def test_the_list_the_detail_and_the_overview_show_the_phones_score():
    a, ia = _store("Mağaza A")
    c = _case(ia, 12, "needs_person")
    for _ in range(3):
        risk.record(a, PHONE, "refused")
    client = _viewer_of(a)
    listing = client.get(reverse("dashboard:confirmations")).content.decode()
    assert 'class="risk risk-high"' in listing and ">9<" in listing and "3 refused" in listing
    assert reverse("dashboard:phone", args=[PHONE[1:]]) in listing
    detail = client.get(reverse("dashboard:confirmation", args=[c.pk])).content.decode()
    assert 'id="phone-history"' in detail and "3 refused" in detail
    home = client.get(reverse("dashboard:home")).content.decode()
    assert 'class="risk risk-high"' in home and "3 refused" in home


def test_returns_of_confirmed_vs_not_confirmed_orders_per_channel_on_the_overview():
    a, ia = _store("Mağaza A", risk_refused_status_ids=[12], risk_delivered_status_ids=[5])
    _case(ia, 1, "confirmed", via="whatsapp", outcome="delivered")
    _case(ia, 2, "confirmed", via="whatsapp", outcome="refused")
    _case(ia, 3, "confirmed", via="call", outcome="delivered")
    _case(ia, 4, "skipped", outcome="refused")
    _case(ia, 5, "expired", outcome="refused")
    _case(ia, 6, "resolved_in_shop", outcome="delivered")
    now = clock.now()
    figures = cod_stats.returns_by_confirmation(a, now - dt.timedelta(days=1), now + dt.timedelta(minutes=1))
    assert figures["whatsapp"] == {"refused": 1, "delivered": 1, "cancelled": 0}
    assert figures["call"]["delivered"] == 1 and figures[""] == {"refused": 2, "delivered": 1, "cancelled": 0}
    resp = _viewer_of(a).get(reverse("dashboard:home"))
    card = next(c for c in resp.context["cards"] if c.title == "Returns: confirmed vs not confirmed")
    rows = {r[0]: r[1:] for r in card.rows}
    assert rows["All confirmed orders"] == ("2", "1", "33%")
    assert rows["Confirmed by WhatsApp"] == ("1", "1", "50%") and rows["Not confirmed"] == ("1", "2", "67%")
    assert "Confirmed by SMS" not in rows  # a channel with nothing is left out


def test_time_to_answer_per_channel_median_and_p90():
    a, ia = _store("Mağaza A")
    for n, secs in enumerate((10, 20, 30, 40, 50, 60, 70, 80, 90, 1000), 1):
        _case(ia, n, "confirmed", attempts=[("whatsapp", "answered", secs)])
    _case(ia, 50, "confirmed", attempts=[("call", "answered", 25)])
    _case(ia, 51, "no_answer", attempts=[("sms", "no_answer", None)])
    now = clock.now()
    times = cod_stats.answer_times(a, now - dt.timedelta(days=1), now)
    assert times["whatsapp"] == (55.0, 90.0) and times["call"] == (25.0, 25.0) and "sms" not in times
    card = next(c for c in _viewer_of(a).get(reverse("dashboard:home")).context["cards"] if c.title == "Channel split")
    rows = {r[0]: r[1:] for r in card.rows}
    assert rows["WhatsApp"][3:] == ("55 s", "1 min 30 s") and rows["SMS"][3:] == ("—", "—")
