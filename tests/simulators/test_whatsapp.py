"""The WhatsApp Cloud API simulator's own behaviour: status orders, TTL drop, redelivery, CSW, versions, limits."""

from __future__ import annotations

import json
import urllib.request

import pytest

from ocbridge.simulators.whatsapp import WhatsAppSimulator

TOKEN, PHONE = "wa-token", "+905321234567"


@pytest.fixture
def sim(receiver):
    with WhatsAppSimulator(token=TOKEN, speed=2000, webhook_url=receiver.url + "/wa", review_delay=10 ** 7) as s:
        yield s


def _post(sim, path, body, version="v25.0"):
    req = urllib.request.Request(f"{sim.base_url}/{version}/{path}", data=json.dumps(body).encode(), method="POST",
                                 headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _template(sim, params=("order_number",)):
    body = "Onaylıyor musunuz, sipariş " + " ".join("{{%s}}" % p for p in params) + " ?"
    status, res = _post(sim, f"{sim.waba_id}/message_templates", {
        "name": "t", "language": "tr", "category": "UTILITY", "parameter_format": "named",
        "components": [{"type": "body", "text": body},
                       {"type": "buttons", "buttons": [{"type": "quick_reply", "text": "Evet"}]}]})
    assert status == 200 and res["status"] == "PENDING"
    sim.approve_all()


def _send(sim, to=PHONE, kind="template", **extra):
    body = {"messaging_product": "whatsapp", "to": to, "type": kind, **extra}
    if kind == "template":
        body["template"] = {"name": "t", "language": {"code": "tr"}, "components": [
            {"type": "body", "parameters": [{"type": "text", "parameter_name": "order_number", "text": "5"}]}]}
    return _post(sim, f"{sim.phone_number_id}/messages", body)


def _statuses(receiver, sim, n):
    sim.wait_for(lambda: len([h for h in receiver.posts("/wa") if '"statuses"' in h["body"]]) >= n, 5)
    return [json.loads(h["body"])["entry"][0]["changes"][0]["value"]["statuses"][0]["status"]
            for h in receiver.posts("/wa") if '"statuses"' in h["body"]]


@pytest.mark.parametrize("mode,expected", [("read", ["sent", "delivered", "read"]), ("read_only", ["sent", "read"]),
                                           ("none", ["sent"])])
def test_status_orders(sim, receiver, mode, expected):
    _template(sim)
    sim.set_wa_customer(PHONE, statuses=mode)
    assert _send(sim)[0] == 200
    assert _statuses(receiver, sim, len(expected)) == expected


def test_a_webhook_answered_with_500_is_delivered_again(sim, receiver):
    _template(sim)
    sim.wait_for(lambda: receiver.posts("/wa"), 5)  # the template's review result
    receiver.reply("/wa", (500, "no"))
    sim.set_wa_customer(PHONE, statuses="none")
    _send(sim)
    sim.wait_for(lambda: len(receiver.posts("/wa")) >= 3, 5)  # template update, sent (500), sent again
    sent = [h["body"] for h in receiver.posts("/wa") if '"sent"' in h["body"]]
    assert len(sent) == 2 and sent[0] == sent[1]


def test_free_form_text_outside_the_customer_service_window_fails_with_131047(sim, receiver):
    assert _send(sim, kind="text", text={"body": "hello"})[0] == 200  # accepted, then failed (§5)
    sim.wait_for(lambda: receiver.posts("/wa"), 5)
    status = json.loads(receiver.posts("/wa")[0]["body"])["entry"][0]["changes"][0]["value"]["statuses"][0]
    assert status["status"] == "failed" and status["errors"][0]["code"] == 131047


def test_unknown_version_unknown_template_and_wrong_parameters(sim):
    assert _send(sim)[1]["error"]["code"] == 132001
    _template(sim)
    bad = {"template": {"name": "t", "language": {"code": "tr"}, "components": []}}
    status, res = _post(sim, f"{sim.phone_number_id}/messages",
                        {"messaging_product": "whatsapp", "to": PHONE, "type": "template", **bad})
    assert status == 400 and res["error"]["code"] == 132000
    assert _post(sim, f"{sim.phone_number_id}/messages", {}, version="v12.0")[1]["error"]["code"] == 2635


def test_throughput_limit_answers_130429(sim):
    _template(sim)
    sim.set_rate_limit(1, burst=1)
    codes = [_send(sim, to=f"+90532123456{n}")[1].get("error", {}).get("code") for n in range(3)]
    assert codes[0] is None and 130429 in codes


def test_metas_clock_follows_the_clock_it_is_given_for_timestamps_and_the_window(receiver):
    """Meta stamps each message (`messages[].timestamp`, statuses' `timestamp`: Unix seconds) and counts the customer
    service window (24 h from the customer's message, §2) on its clock. Given the clock a test runs the hub on, both
    follow it — a window opens and closes when the test moves time, not when a slow run passes 43 real seconds at
    speed 2000 — and a text taken 25 h after the customer wrote fails with 131047."""
    now = [1_800_000_000.0]

    def statuses():
        out = {}
        for h in receiver.posts("/wa"):
            for st in json.loads(h["body"])["entry"][0]["changes"][0]["value"].get("statuses", []):
                out.setdefault(st["id"], []).append(st)
        return out

    with WhatsAppSimulator(token=TOKEN, speed=2000, webhook_url=receiver.url + "/wa", review_delay=10 ** 7,
                           clock=lambda: now[0]) as sim:
        assert sim.write(PHONE, "merhaba")["timestamp"] == "1800000000"
        now[0] += 23 * 3600  # still inside the window
        inside = _send(sim, kind="text", text={"body": "link 1"})[1]["messages"][0]["id"]
        sim.wait_for(lambda: len(statuses().get(inside, [])) >= 3, 5)
        now[0] += 2 * 3600  # 25 h after the customer's message
        outside = _send(sim, kind="text", text={"body": "link 2"})[1]["messages"][0]["id"]
        sim.wait_for(lambda: statuses().get(outside), 5)
    got = statuses()
    assert [(st["status"], st["timestamp"]) for st in got[inside]] == [
        ("sent", "1800082800"), ("delivered", "1800082800"), ("read", "1800082800")]
    [failed] = got[outside]
    assert (failed["status"], failed["errors"][0]["code"], failed["timestamp"]) == ("failed", 131047, "1800090000")
