"""Forged, replayed and misdirected webhooks through the real entry /hooks/…: rejected (or a no-op), no state
change in the hub or the shop, and each one logged as an inbound Exchange (rejected, warning)."""

from urllib.parse import urlencode

import pytest
from forgery.conftest import call_completed, rejected_exchange, sandbox_signature, twilio_signature

from ocbridge.core.choices import ExchangeOutcome
from ocbridge.core.inbox import queue_stored
from ocbridge.core.jobs import run_until_idle
from ocbridge.core.models import Exchange, Job

FORM = "application/x-www-form-urlencoded"


def post_sandbox(client, tenant, body: bytes, *, signature: str | None = "valid", path: str | None = None, **extra):
    headers = dict(extra)
    if signature == "valid":
        signature = sandbox_signature(body, tenant.sandbox.secret["webhook_secret"])
    if signature is not None:
        headers["HTTP_X_SANDBOX_SIGNATURE"] = signature
    return client.post(path or tenant.hook("sandbox", "call-result"), data=body, content_type="application/json",
                       **headers)


def assert_rejected(resp, status: int, error: str, *tenants_before):
    assert resp.status_code == status
    ex = rejected_exchange()
    assert (ex.outcome, ex.level, ex.status) == (ExchangeOutcome.REJECTED, "warning", status)
    assert error in ex.error
    assert not Job.objects.exists()
    run_until_idle()
    for tenant, before in tenants_before:
        assert tenant.snapshot() == before


# --- URL token and address ---------------------------------------------------------------------------------


def test_wrong_token_is_404_logged_and_changes_nothing(client, tenants):
    a, b = tenants
    before = a.snapshot()
    resp = post_sandbox(client, a, call_completed(a.call_id), path="/hooks/sandbox/not-the-token/call-result")
    assert_rejected(resp, 404, "unknown webhook token", (a, before))


@pytest.mark.parametrize("path", ["/hooks/sandbox//call-result", "/hooks/sandbox/call-result", "/hooks//call-result"])
def test_missing_token_matches_no_route(client, tenants, path):
    a, _ = tenants
    before = a.snapshot()
    resp = post_sandbox(client, a, call_completed(a.call_id), path=path)
    assert resp.status_code == 404
    assert not Exchange.objects.exists() and not Job.objects.exists()
    assert a.snapshot() == before


def test_token_of_another_service_is_404(client, tenants):
    """The Twilio connection's token on a Sandbox URL: a token only opens its own connection's hooks."""
    a, _ = tenants
    before = a.snapshot()
    resp = post_sandbox(client, a, call_completed(a.call_id), path=f"/hooks/sandbox/{a.twilio.webhook_token}/call-result")
    assert_rejected(resp, 404, "unknown webhook token", (a, before))


def test_token_of_a_disabled_connection_is_404(client, tenants):
    a, _ = tenants
    a.sandbox.enabled = False
    a.sandbox.save()
    before = a.snapshot()
    resp = post_sandbox(client, a, call_completed(a.call_id))
    assert_rejected(resp, 404, "unknown webhook token", (a, before))


def test_address_outside_the_allowlist_is_403(client, tenants):
    a, _ = tenants
    a.sandbox.ip_allowlist = "194.49.126.0/24"
    a.sandbox.save()
    before = a.snapshot()
    resp = post_sandbox(client, a, call_completed(a.call_id), REMOTE_ADDR="203.0.113.9")
    assert_rejected(resp, 403, "203.0.113.9 is not in the connection's allowlist", (a, before))


def test_forwarded_for_header_is_not_trusted_by_default(client, tenants):
    """A client cannot claim an allowlisted address in X-Forwarded-For unless the operator trusts a proxy."""
    a, _ = tenants
    a.sandbox.ip_allowlist = "194.49.126.0/24"
    a.sandbox.save()
    before = a.snapshot()
    resp = post_sandbox(client, a, call_completed(a.call_id), REMOTE_ADDR="203.0.113.9",
                        HTTP_X_FORWARDED_FOR="194.49.126.36")
    assert_rejected(resp, 403, "allowlist", (a, before))


def test_unparseable_peer_address_is_403(client, tenants):
    a, _ = tenants
    a.sandbox.ip_allowlist = "194.49.126.0/24"
    a.sandbox.save()
    before = a.snapshot()
    resp = post_sandbox(client, a, call_completed(a.call_id), REMOTE_ADDR="not-an-ip")
    assert_rejected(resp, 403, "allowlist", (a, before))


# --- Sandbox signature ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["missing", "empty", "wrong-secret", "other-tenants-secret", "tampered-body",
                                 "without-prefix", "uppercase-hex-of-other-body"])
def test_bad_sandbox_signature_is_403(client, tenants, how):
    a, b = tenants
    body = call_completed(a.call_id, "2")
    sig = {"missing": None, "empty": "",
           "wrong-secret": sandbox_signature(body, "guessed-secret"),
           "other-tenants-secret": sandbox_signature(body, b.sandbox.secret["webhook_secret"]),
           "tampered-body": sandbox_signature(call_completed(a.call_id, "1"), a.sandbox.secret["webhook_secret"]),
           "without-prefix": sandbox_signature(body, a.sandbox.secret["webhook_secret"]).removeprefix("sha256="),
           "uppercase-hex-of-other-body": sandbox_signature(b"{}", a.sandbox.secret["webhook_secret"]).upper()}[how]
    before_a, before_b = a.snapshot(), b.snapshot()
    resp = post_sandbox(client, a, body, signature=sig)
    assert_rejected(resp, 403, "bad or missing X-Sandbox-Signature", (a, before_a), (b, before_b))


def test_valid_sandbox_signature_is_accepted(client, tenants):
    """Control: the same request, correctly signed, decides the order (so the rejections above are the check's)."""
    a, _ = tenants
    resp = post_sandbox(client, a, call_completed(a.call_id))
    assert resp.status_code == 200
    run_until_idle()
    after = a.snapshot()
    assert (after["state"], after["order_status"], after["history"]) == ("confirmed", 2, 1)


# --- Twilio signature ----------------------------------------------------------------------------------------


def twilio_post(client, tenant, hook: str, fields: dict, *, query: str = "", signature: str | None):
    path = tenant.hook("twilio", hook) + (f"?{query}" if query else "")
    headers = {} if signature is None else {"HTTP_X_TWILIO_SIGNATURE": signature}
    return client.post(path, data=urlencode(fields), content_type=FORM, **headers)


TWILIO_FORGERIES = ["missing", "empty", "wrong-auth-token", "other-tenants-auth-token", "signed-for-another-hook",
                    "signed-for-other-tenants-url", "signed-for-http-not-https", "stale-params-digit-changed",
                    "stale-params-field-dropped", "query-marker-tampered", "signature-of-empty-request"]


def twilio_forgeries(a, b, settings) -> dict:
    """name → (fields sent, query, signature): each wrong in one way."""
    gather = {"CallSid": a.twilio_call_sid, "Digits": "2", "AccountSid": a.twilio.secret["account_sid"]}
    query = "ocb_step=1&ocb_k=k1"
    url = settings.PUBLIC_URL + a.hook("twilio", "call-result") + "?" + query
    token = a.twilio.secret["auth_token"]
    cases = [
        ("missing", gather, query, None),
        ("empty", gather, query, ""),
        ("wrong-auth-token", gather, query, twilio_signature(url, gather, "guessed-token")),
        ("other-tenants-auth-token", gather, query, twilio_signature(url, gather, b.twilio.secret["auth_token"])),
        ("signed-for-another-hook", gather, query, twilio_signature(url.replace("call-result", "sms"), gather, token)),
        ("signed-for-other-tenants-url", gather, query,
         twilio_signature(settings.PUBLIC_URL + b.hook("twilio", "call-result") + "?" + query, gather, token)),
        ("signed-for-http-not-https", gather, query, twilio_signature(url.replace("https://", "http://"), gather, token)),
        ("stale-params-digit-changed", gather, query, twilio_signature(url, {**gather, "Digits": "1"}, token)),
        ("stale-params-field-dropped", gather, query, twilio_signature(url, {"CallSid": a.twilio_call_sid}, token)),
        ("query-marker-tampered", gather, "ocb_step=2&ocb_k=k1&ocb_first=2", twilio_signature(url, gather, token)),
        ("signature-of-empty-request", gather, query, twilio_signature(url, {}, token)),
    ]
    return {name: rest for name, *rest in cases}


@pytest.mark.parametrize("how", TWILIO_FORGERIES)
def test_bad_twilio_signature_on_call_result_is_403(client, tenants, settings, how):
    a, b = tenants
    fields, query, sig = twilio_forgeries(a, b, settings)[how]
    before_a, before_b = a.snapshot(), b.snapshot()
    resp = twilio_post(client, a, "call-result", fields, query=query, signature=sig)
    assert_rejected(resp, 403, "bad or missing X-Twilio-Signature", (a, before_a), (b, before_b))


def test_valid_twilio_signature_is_accepted(client, tenants, settings):
    """Control: correctly signed, the key press is applied."""
    a, _ = tenants
    fields = {"CallSid": a.twilio_call_sid, "Digits": "1"}
    query = "ocb_step=1&ocb_k=k1"
    url = settings.PUBLIC_URL + a.hook("twilio", "call-result") + "?" + query
    resp = twilio_post(client, a, "call-result", fields, query=query,
                       signature=twilio_signature(url, fields, a.twilio.secret["auth_token"]))
    assert resp.status_code == 200 and b"<Response>" in resp.content
    run_until_idle()
    assert a.snapshot()["state"] == "confirmed"


@pytest.mark.parametrize("hook", ["sms", "voice"])
@pytest.mark.parametrize("how", ["missing", "wrong-auth-token", "stale-params"])
def test_bad_twilio_signature_on_sms_and_voice_is_403(client, tenants, settings, hook, how):
    from ocbridge.integrations.order_lookup.models import LookupCall

    a, _ = tenants
    fields = {"MessageSid": "SM1", "From": "+905321234567", "To": "+15005550006", "Body": "iptal",
              "SmsStatus": "received"} if hook == "sms" else {"CallSid": "CAx", "From": "+905321234567",
                                                              "To": "+902129630131"}
    url = settings.PUBLIC_URL + a.hook("twilio", hook)
    token = a.twilio.secret["auth_token"]
    sig = {"missing": None, "wrong-auth-token": twilio_signature(url, fields, "guessed"),
           "stale-params": twilio_signature(url, {**fields, "From": "+905559999999"}, token)}[how]
    before = a.snapshot()
    resp = twilio_post(client, a, hook, fields, signature=sig)
    assert resp.status_code == 403
    ex = rejected_exchange()
    assert (ex.outcome, ex.level) == (ExchangeOutcome.REJECTED, "warning") and "X-Twilio-Signature" in ex.error
    assert not LookupCall.objects.exists() and not Job.objects.exists()
    assert a.snapshot() == before


# --- replay --------------------------------------------------------------------------------------------------


def test_replayed_event_gives_one_job_and_one_outcome(client, tenants):
    a, _ = tenants
    body = call_completed(a.call_id, "1", event_id="evt_replayed")
    for _ in range(3):
        assert post_sandbox(client, a, body).status_code == 200
    queue_stored()  # the worker's dispatcher: stored webhooks → jobs
    assert Job.objects.filter(kind="cod_confirm.apply_call_result").count() == 1
    run_until_idle()
    for _ in range(2):  # replayed again after it was applied
        assert post_sandbox(client, a, body).status_code == 200
    run_until_idle()
    after = a.snapshot()
    assert (after["state"], after["order_status"], after["history"]) == ("confirmed", 2, 1)
    assert Job.objects.filter(kind="cod_confirm.apply_call_result").count() == 1
    assert Job.objects.filter(kind="cod_confirm.write_outcome").count() == 1
    stored = Exchange.objects.filter(direction="in").order_by("pk")
    assert stored.count() == 5  # every delivery kept
    assert all("duplicate" in e.error for e in stored[1:])


def test_second_event_about_a_decided_call_changes_nothing(client, tenants):
    """A new event id claiming the opposite key after the decision (a forged "press 2" replay)."""
    a, _ = tenants
    post_sandbox(client, a, call_completed(a.call_id, "1", event_id="evt_first"))
    run_until_idle()
    before = a.snapshot()
    assert post_sandbox(client, a, call_completed(a.call_id, "2", event_id="evt_second")).status_code == 200
    run_until_idle()
    after = a.snapshot()
    assert (after["state"], after["order_status"], after["history"]) == (before["state"], 2, 1)


def test_replayed_twilio_gather_is_one_outcome(client, tenants, settings):
    a, _ = tenants
    fields = {"CallSid": a.twilio_call_sid, "Digits": "1"}
    url = settings.PUBLIC_URL + a.hook("twilio", "call-result")
    sig = twilio_signature(url, fields, a.twilio.secret["auth_token"])
    for _ in range(3):
        assert twilio_post(client, a, "call-result", fields, signature=sig).status_code == 200
    run_until_idle()
    after = a.snapshot()
    assert (after["state"], after["history"]) == ("confirmed", 1)
    assert Job.objects.filter(kind="cod_confirm.apply_call_result").count() == 1


# --- another store's order -----------------------------------------------------------------------------------


def test_event_for_another_stores_call_changes_nothing_there(client, tenants):
    """Tenant A signs with its own secret and token, but names B's call id: B must not move."""
    a, b = tenants
    before_b = b.snapshot()
    resp = post_sandbox(client, a, call_completed(b.call_id, "2", event_id="evt_cross"))
    assert resp.status_code == 200  # A's own URL and signature are genuine; the event is stored
    run_until_idle()
    after_b = b.snapshot()
    assert {k: v for k, v in after_b.items() if k != "jobs"} == {k: v for k, v in before_b.items() if k != "jobs"}
    ex = Exchange.objects.get(direction="in")
    assert ex.store_id == a.store.pk and ex.level == "warning"


def test_twilio_event_for_another_stores_call_changes_nothing_there(client, tenants, settings):
    a, b = tenants
    fields = {"CallSid": b.twilio_call_sid, "Digits": "2"}
    url = settings.PUBLIC_URL + a.hook("twilio", "call-result")
    before_b = b.snapshot()
    resp = twilio_post(client, a, "call-result", fields, signature=twilio_signature(url, fields, a.twilio.secret["auth_token"]))
    assert resp.status_code == 200
    run_until_idle()
    after_b = b.snapshot()
    assert {k: v for k, v in after_b.items() if k != "jobs"} == {k: v for k, v in before_b.items() if k != "jobs"}


def test_sms_reply_from_a_customer_of_both_stores_only_touches_the_receiving_store(client, tenants):
    """Same phone number in A and B: a reply through A's connection decides A's order only."""
    a, b = tenants
    from ocbridge.integrations.cod_confirm.models import Attempt

    Attempt.objects.filter(confirmation__store__in=[a.store, b.store]).update(channel="sms")
    before_b = b.snapshot()
    body = (b'{"event_id": "evt_sms_x", "type": "sms.inbound", "data": {"id": "in_x", "from": "+905321234567", '
            b'"to": "ACME", "text": "iptal", "received_at": "2024-05-01T10:00:00Z"}}')
    resp = post_sandbox(client, a, body, path=a.hook("sandbox", "sms"))
    assert resp.status_code == 200
    run_until_idle()
    assert a.snapshot()["state"] == "cancelled"
    after_b = b.snapshot()
    assert {k: v for k, v in after_b.items() if k != "jobs"} == {k: v for k, v in before_b.items() if k != "jobs"}
