"""What the hub itself writes in the request log about a webhook reads in each reader's language (Exchange.error_said),
counts in each language's plural form: WhatsApp events for another phone number, ignored (cod_confirm.whatsapp_events),
and deliveries of events already queued (core.inbox). The count of a caller's orders: test_verimor_calls."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse
from testkit import assert_page_reads

from ocbridge.core.inbox import queue_stored
from ocbridge.core.models import Connection, Exchange, Store
from ocbridge.simulators.whatsapp import sign

pytestmark = pytest.mark.django_db
SECRET, OURS, OTHER = "wa-app-secret", "1055", "2077"
ERROR = r'<td class="err wrap">.*?</td>'

IGNORED = {1: {"en": "1 event for another phone number ignored",
               "tr": "başka bir telefon numarasına ait 1 olay yok sayıldı",
               "ru": "1 событие для другого номера телефона пропущено"},
           2: {"en": "2 events for another phone number ignored",
               "tr": "başka bir telefon numarasına ait 2 olay yok sayıldı",
               "ru": "2 события для другого номера телефона пропущено"},
           5: {"en": "5 events for another phone number ignored",
               "tr": "başka bir telefon numarasına ait 5 olay yok sayıldı",
               "ru": "5 событий для другого номера телефона пропущено"}}


def _post(client, conn, numbers: dict[str, int]) -> Exchange:
    """A signed WhatsApp webhook (Meta's shape, providers/whatsapp.md §4) with `numbers[pnid]` delivered statuses
    for each phone number id; the Exchange it left."""
    changes = [{"field": "messages", "value": {"messaging_product": "whatsapp", "metadata": {"phone_number_id": pnid},
                                               "statuses": [{"id": f"wamid.{pnid}.{i}", "status": "delivered",
                                                             "recipient_id": "905321234567"} for i in range(n)]}}
               for pnid, n in numbers.items()]
    body = json.dumps({"object": "whatsapp_business_account", "entry": [{"id": "3099", "changes": changes}]}).encode()
    path = reverse("webhook", kwargs={"service": "whatsapp", "token": conn.webhook_token, "hook": "events"})
    resp = client.post(path, body, content_type="application/json", HTTP_X_HUB_SIGNATURE_256=sign(SECRET, body))
    assert resp.status_code == 200
    return Exchange.objects.filter(direction="in").latest("pk")


@pytest.fixture
def conn():
    return Connection.objects.create(store=Store.objects.create(name="Shop"), service="whatsapp",
                                     secret={"access_token": "wa-token", "app_secret": SECRET},
                                     options={"phone_number_id": OURS, "waba_id": "3099"})


@pytest.mark.parametrize("n", sorted(IGNORED))
def test_events_for_another_number_are_ignored_and_the_log_says_how_many_in_each_language(client, conn, n):
    """Before: "2 event(s) for another phone number ignored", in English for every reader."""
    ex = _post(client, conn, {OTHER: n, OURS: 0})
    assert ex.pending_jobs is None and ex.error == IGNORED[n]["en"]
    assert_page_reads(reverse("dashboard:exchange", args=[ex.pk]), IGNORED[n], ERROR, alone=True)
    assert_page_reads(reverse("dashboard:exchanges"), IGNORED[n], r'<small class="err">.*?</small>', alone=True)


def test_a_repeated_delivery_is_noted_after_what_the_request_said_in_each_language(client, conn):
    """Meta delivers the same webhook twice (two of ours, one of another number): the repeat's jobs exist already,
    which the dispatcher notes after the ignored event, both in the reader's language."""
    first = _post(client, conn, {OURS: 2, OTHER: 1})
    queue_stored()
    again = _post(client, conn, {OURS: 2, OTHER: 1})
    queue_stored()
    first.refresh_from_db()
    again.refresh_from_db()
    assert first.error == IGNORED[1]["en"] and again.job_id is not None
    said = {"en": IGNORED[1]["en"] + "; 2 duplicate deliveries: already queued",
            "tr": IGNORED[1]["tr"] + "; 2 tekrarlanan teslim: zaten kuyrukta",
            "ru": IGNORED[1]["ru"] + "; 2 повторные доставки: уже в очереди"}
    assert again.error == said["en"]  # the row's English text, for logs and the CSV
    assert_page_reads(reverse("dashboard:exchange", args=[again.pk]), said, ERROR, alone=True)
