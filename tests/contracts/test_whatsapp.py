"""WhatsApp Cloud API: shapes written field by field from /work/shared/providers/whatsapp.md (Meta's documents,
cited by section; Meta publishes no Python SDK to test against). Our client's requests, the simulator's answers
and webhooks, and our parsers must all fit them.
"""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from contracts.conftest import assert_listed
from ocbridge.core.errors import RetryableError, TerminalError, UnknownOutcomeError
from ocbridge.services import whatsapp as wa
from ocbridge.services.whatsapp import MaybeSentError, RecipientError, WhatsAppClient
from ocbridge.simulators.whatsapp import WhatsAppSimulator

pytestmark = pytest.mark.django_db
TOKEN, SECRET, PHONE = "contract-wa-token", "contract-app-secret", "+905321234567"
# §2 "POST /{pnid}/messages with {messaging_product, recipient_type, to, type, <type>:{…}}"
SEND_REQUEST = {"messaging_product", "recipient_type", "to", "type", "template", "biz_opaque_callback_data",
                "message_send_ttl_seconds"}
# §2 "Template: template{name, language{code}, components[]}"; quick reply: {type, sub_type, index, parameters}
TEMPLATE = {"name", "language", "components"}
QUICK_REPLY = {"type", "sub_type", "index", "parameters"}
# §2 "Response: {contacts:[{input, wa_id}], messages:[{id}]}"
SEND_RESPONSE = {"messaging_product", "contacts", "messages"}
# §3 "POST /{waba-id}/message_templates with {name, language, category, parameter_format, components}"
CREATE_REQUEST = {"name", "language", "category", "parameter_format", "components"}
# §4 envelope: entry[] (id = WABA) → changes[] (field) → value{metadata{phone_number_id}, messages[] | statuses[]}
STATUS = {"id", "status", "timestamp", "recipient_id"}
ERROR = {"message", "type", "code", "error_data", "fbtrace_id"}  # §5 error body


@pytest.fixture
def hook(receiver_factory):
    return receiver_factory(lambda hit: (200, "", "text/plain"))


@pytest.fixture
def sim(hook):
    with WhatsAppSimulator(token=TOKEN, app_secret=SECRET, speed=2000, webhook_url=hook.url + "/events",
                           review_delay=10 ** 7) as s:
        yield s


@pytest.fixture
def ours(sim, make_conn):
    return WhatsAppClient(make_conn("whatsapp", sim.base_url, {"access_token": TOKEN, "app_secret": SECRET},
                                    {"phone_number_id": sim.phone_number_id, "waba_id": sim.waba_id}))


def _approved(sim, ours, lang="tr"):
    ours.create_template(name="cod_confirm", language=lang, body="Siparişiniz {{order_number}} onaylansın mı?",
                         examples={"order_number": "1"}, buttons=["Onayla", "İptal", "Temsilci"], key="tpl-1")
    sim.approve_all()


def _send(ours, key="k-1", **over):
    args = {"to": PHONE, "template": "cod_confirm", "language": "tr", "params": {"order_number": "1001"},
            "button_payloads": [f"{key}#confirm", f"{key}#cancel", f"{key}#agent"], "key": key, "ttl_seconds": 900}
    return ours.send_template(**{**args, **over})


def _bodies(hook) -> list[dict]:
    hook_bodies = []
    for h in hook.hits:
        assert h["headers"]["x-hub-signature-256"] == "sha256=" + hmac.new(
            SECRET.encode(), h["body"], hashlib.sha256).hexdigest()  # §4: HMAC of the exact bytes
        hook_bodies.append(json.loads(h["body"]))
    return hook_bodies


def test_template_send_request_response_and_status_webhooks_fit_the_document(sim, ours, hook):
    _approved(sim, ours)
    sim.set_wa_customer(PHONE, reply=None, statuses="read")
    sent = _send(ours)
    req = [r for r in sim.requests() if r.path.endswith("/messages")][0]
    body = req.json()
    assert set(body) == SEND_REQUEST and body["messaging_product"] == "whatsapp" and body["to"] == PHONE  # §7: +
    assert req.path == f"/v25.0/{sim.phone_number_id}/messages"  # §1: version pinned
    assert req.header("authorization") == f"Bearer {TOKEN}"
    assert set(body["template"]) == TEMPLATE and body["template"]["language"] == {"code": "tr"}
    buttons = [c for c in body["template"]["components"] if c["type"] == "button"]
    assert all(set(b) == QUICK_REPLY and b["sub_type"] == "quick_reply" for b in buttons)
    assert [b["parameters"][0]["payload"] for b in buttons] == ["k-1#confirm", "k-1#cancel", "k-1#agent"]
    assert 30 <= body["message_send_ttl_seconds"] <= 12 * 3600  # §2 TTL for utility templates
    answer = json.loads(req.response)
    assert set(answer) == SEND_RESPONSE and answer["contacts"][0] == {"input": PHONE, "wa_id": PHONE[1:]}
    assert sent.provider_id == answer["messages"][0]["id"] and sent.provider_id.startswith("wamid.")
    sim.wait_for(lambda: len([h for h in hook.hits if b'"read"' in h["body"]]) == 1, 5)
    statuses = [b["entry"][0]["changes"][0]["value"]["statuses"][0] for b in _bodies(hook)
                if "statuses" in b["entry"][0]["changes"][0]["value"]]
    assert [s["status"] for s in statuses] == ["sent", "delivered", "read"]
    assert all(STATUS <= set(s) and s["biz_opaque_callback_data"] == "k-1" for s in statuses)  # §2 echoed
    assert all(s["pricing"]["pricing_model"] == "PMP" for s in statuses)  # §4 pricing with sent/delivered/read
    parsed = [e for b in hook.hits for e in wa.parse_webhook(b["body"]) if isinstance(e, wa.WaStatus)]
    assert [(e.status, e.callback_data, e.provider_id) for e in parsed] == [
        (s, "k-1", sent.provider_id) for s in ("sent", "delivered", "read")]
    assert_listed("whatsapp", sim.requests())


def test_a_quick_reply_tap_and_free_text_parse_as_meta_sends_them(sim, ours, hook):
    _approved(sim, ours)
    sim.set_wa_customer(PHONE, reply=None, statuses="delivered")
    sent = _send(ours)
    sim.tap(sent.provider_id, "cancel")
    sim.write(PHONE, "Здравствуйте, ДА")
    def inbound():
        return [h["body"] for h in hook.hits if b'"messages": [' in h["body"]]

    sim.wait_for(lambda: len(inbound()) >= 2, 5)
    raw = inbound()
    assert all(max(raw_b) < 128 for raw_b in raw)  # §4: Meta sends non-ASCII as \\uXXXX escapes
    events = [e for b in raw for e in wa.parse_webhook(b) if isinstance(e, wa.WaMessage)]
    tap, text = events
    assert (tap.kind, tap.payload, tap.text, tap.context_id) == ("button", "k-1#cancel", "İptal", sent.provider_id)
    assert (text.kind, text.text, text.from_number) == ("text", "Здравствуйте, ДА", PHONE)
    assert tap.phone_number_id == sim.phone_number_id
    # messages[].timestamp: Unix seconds as a string (webhooks/reference/messages/button and /text)
    stamps = [m["timestamp"] for b in raw for m in json.loads(b)["entry"][0]["changes"][0]["value"]["messages"]]
    assert [tap.sent_at, text.sent_at] == [int(t) for t in stamps] and all(t.isdigit() for t in stamps)


def test_not_on_whatsapp_is_a_failed_status_with_131026(sim, ours, hook):
    _approved(sim, ours)
    sim.set_wa_customer(PHONE, on_whatsapp=False, sent_before_failure=False)
    sent = _send(ours)
    sim.wait_for(lambda: any(b'"statuses"' in h["body"] for h in hook.hits), 5)
    (status,) = [e for h in hook.hits for e in wa.parse_webhook(h["body"]) if isinstance(e, wa.WaStatus)]
    assert status.status == "failed" and status.not_on_whatsapp and status.provider_id == sent.provider_id


@pytest.mark.parametrize("setup,error,code", [
    (lambda sim: None, TerminalError, 132001),  # §5: template missing or not approved (404)
    (lambda sim: sim.expire_token(), TerminalError, 190),  # §5: token expired (401)
])
def test_config_errors_are_terminal_with_metas_code(sim, ours, setup, error, code):
    setup(sim)
    with pytest.raises(error) as exc:
        _send(ours)
    assert exc.value.code == code and not isinstance(exc.value, RetryableError)
    answer = json.loads(sim.requests()[-1].response)
    assert set(answer["error"]) == ERROR and answer["error"]["message"].startswith(f"(#{code})")


def test_pair_rate_limit_is_retried_later_and_sends_nothing(sim, ours):
    _approved(sim, ours)
    sim.set_wa_customer(PHONE, reply=None)
    for n in range(3):
        _send(ours, key=f"burst-{n}")
    with pytest.raises(RetryableError) as exc:
        _send(ours, key="burst-3")
    assert exc.value.code == 131056 and exc.value.retry_after >= 6  # §5 pair rate: 1 per 6 s
    assert len(sim.messages()) == 3


def test_a_lost_answer_is_unknown_and_never_sent_twice(sim, ours):
    _approved(sim, ours)
    sim.fail_next("500", path=f"/v25.0/{sim.phone_number_id}/messages", after=True)
    with pytest.raises(MaybeSentError):
        _send(ours, key="lost-1")
    with pytest.raises(UnknownOutcomeError):
        _send(ours, key="lost-1")  # no idempotency key at Meta (§2): asking again would duplicate the message
    assert len(sim.messages()) == 1


def test_the_131026_answer_in_the_response_is_a_recipient_error(sim, ours, monkeypatch):
    from ocbridge.simulators import whatsapp as simmod

    _approved(sim, ours)
    monkeypatch.setattr(simmod.WhatsAppSimulator, "_check_pair", lambda self, wa_id: (_ for _ in ()).throw(
        simmod._error(400, 131026, "Message undeliverable")))  # errors arrive in the response too (§5)
    with pytest.raises(RecipientError) as exc:
        _send(ours)
    assert exc.value.code == 131026 and exc.value.recipient


def test_template_creation_and_review_fit_the_document(sim, ours, hook):
    res = ours.create_template(name="cod_confirm", language="ru", body="Подтвердите заказ {{order_number}}, пожалуйста.",
                               examples={"order_number": "1"}, buttons=["Подтвердить", "Отменить", "Оператор"],
                               key="tpl-ru")
    req = sim.requests()[-1].json()
    assert set(req) == CREATE_REQUEST and req["category"] == "UTILITY" and req["parameter_format"] == "named"
    assert res["status"] == "PENDING" and set(res) == {"id", "status", "category"}  # §3 approval starts PENDING
    with pytest.raises(TerminalError) as exc:  # §3: no variable at the start or end (2388299)
        ours.create_template(name="bad_one", language="en", body="Order {{order_number}}",
                             examples={"order_number": "1"}, buttons=["Confirm"], key="tpl-bad")
    assert exc.value.code == 2388299
    sim.set_template_review("APPROVED", category="MARKETING")  # §3: judged marketing → approved as MARKETING
    sim.approve_all()
    sim.wait_for(lambda: hook.hits, 5)
    (update,) = [e for h in hook.hits for e in wa.parse_webhook(h["body"])]
    assert (update.name, update.language, update.status) == ("cod_confirm", "ru", "APPROVED")
    (listed,) = ours.templates("cod_confirm")
    assert listed["category"] == "MARKETING" and listed["status"] == "APPROVED"
    assert "Demo" in str(ours.check_credentials())
    assert_listed("whatsapp", sim.requests())


def test_handshake_and_signature_rules():
    assert wa.verify_handshake("tok", {"hub.mode": "subscribe", "hub.verify_token": "tok", "hub.challenge": "9"}) == "9"
    assert wa.verify_handshake("tok", {"hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "9"}) is None
    assert wa.verify_handshake("", {"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "9"}) is None
    raw = b'{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[]}],"n":"\\u0130ptal"}'
    good = "sha256=" + hmac.new(b"s", raw, hashlib.sha256).hexdigest()
    assert wa.verify_signature("s", raw, good)
    assert not wa.verify_signature("s", json.dumps(json.loads(raw), ensure_ascii=False).encode(), good)  # re-encoded
    assert not wa.verify_signature("", raw, good) and not wa.verify_signature("s", raw, "")
