"""Malformed (and a few well-formed) webhook bodies per provider through the real entry /hooks/…: never a 500,
a 400 that says what is wrong for malformed ones, and the raw request kept as an inbound Exchange."""

import json
from urllib.parse import parse_qs

import pytest
from corpus.conftest import sandbox_signature, twilio_signature
from corpus.loader import body_of, params
from django.conf import settings

from ocbridge.core.choices import Direction, ExchangeOutcome
from ocbridge.core.inbox import queue_stored
from ocbridge.core.masking import mask_body
from ocbridge.core.models import Exchange, Job
from ocbridge.integrations.order_lookup.models import LookupCall

FORM = "application/x-www-form-urlencoded"


def send(client, hub, case: dict):
    service, method = case["service"], case.get("method", "POST")
    body = body_of(case)
    path = hub.url(service, case["hook"]) + (f"?{case['query']}" if case.get("query") else "")
    headers = {}
    if service == "sandbox" and case.get("sign", True):
        headers["HTTP_X_SANDBOX_SIGNATURE"] = sandbox_signature(body)
    if service == "twilio" and case.get("sign", True):
        fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True) if case.get("content_type") == FORM else {}
        headers["HTTP_X_TWILIO_SIGNATURE"] = twilio_signature(settings.PUBLIC_URL + path, fields)
    if method == "GET":
        return client.get(path, **headers), body
    return client.generic(method, path, data=body, content_type=case.get("content_type", ""), **headers), body


def has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    return isinstance(value, list) and any(has_nul(v) for v in value)


@pytest.mark.parametrize("case", params("webhook_bodies"))
def test_webhook_body(client, hub, case):
    resp, body = send(client, hub, case)
    queue_stored()  # what the worker's dispatcher does next: the stored webhook's jobs (core.inbox)
    text = resp.content.decode("utf-8", "replace")
    assert resp.status_code != 500
    assert resp.status_code == case["status"], text[:300]
    ex = Exchange.objects.get(direction=Direction.IN)  # stored, whatever the outcome
    assert ex.pending_jobs is None  # nothing left waiting
    assert ex.request_body == mask_body(body, [], settings.EXCHANGE_BODY_LIMIT)
    # Storable on every database (PostgreSQL refuses NUL in text) and nothing lost to U+FFFD.
    assert "\x00" not in ex.request_body and "\ufffd" not in ex.request_body
    if "stored_body" in case:
        assert ex.request_body == case["stored_body"]
    if "error_note" in case:
        assert case["error_note"] in ex.error
    assert ex.status == case["status"]
    # What reaches other rows is text: no NUL (PostgreSQL refuses it) and no Python repr of an object or list.
    rows = [*Exchange.objects.values(), *Job.objects.values(), *LookupCall.objects.values()]
    assert not [(k, v) for row in rows for k, v in row.items() if has_nul(v)]
    for row in [*Job.objects.values(), *LookupCall.objects.values()]:
        dumped = json.dumps(row, default=str, ensure_ascii=False)
        assert "{'" not in dumped and "['" not in dumped, dumped
    if case["status"] >= 400:
        assert case["message"] in text
        assert (ex.outcome, ex.level) == (ExchangeOutcome.REJECTED, "warning")
        assert case["message"] in ex.error or case["status"] == 404
        assert not Job.objects.exists()
    else:
        assert ex.outcome != ExchangeOutcome.REJECTED
        if "jobs" in case:
            assert Job.objects.count() == case["jobs"]
        if "answer" in case:
            assert case["answer"] in text
        if "level" in case:
            assert ex.level == case["level"], ex.error
