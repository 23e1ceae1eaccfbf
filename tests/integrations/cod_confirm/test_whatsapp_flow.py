"""WhatsApp as a COD channel end to end: MariaDB OpenCart, the Cloud API simulator signing its webhooks as Meta
does, the hub's live server, the plan WhatsApp → SMS (Sandbox)."""

import datetime as dt
import json

import pytest

from ocbridge.core import clock, spend
from ocbridge.core.jobs import run_until_idle
from ocbridge.core.models import Connection, Exchange, Job, SideEffect
from ocbridge.integrations.cod_confirm import plan, whatsapp
from ocbridge.integrations.cod_confirm.models import Attempt, Confirmation
from ocbridge.simulators.whatsapp import WhatsAppSimulator, sign
from opencart.opencart_helpers import add_order

pytestmark = pytest.mark.django_db(transaction=True)
PHONE, E164 = "0532 123 45 67", "+905321234567"
SECRET, VERIFY = "wa-app-secret", "verify-me-123"


@pytest.fixture
def wa_bed(cod_bed):
    made = []

    def make(approve=True, **cfg):
        bed = cod_bed("3.0", **cfg)
        # Meta's clock is the hub's test clock: the chat window moves with clock.travel, never with real time.
        sim = WhatsAppSimulator(speed=2000, seed=5, app_secret=SECRET, review_delay=10 ** 7,
                                clock=lambda: clock.now().timestamp())
        sim.start()
        made.append(sim)
        conn = Connection.objects.create(store=bed.store, service="whatsapp", name="Meta", base_url=sim.base_url,
                                         secret={"access_token": "wa-token", "app_secret": SECRET,
                                                 "verify_token": VERIFY},
                                         options={"phone_number_id": sim.phone_number_id, "waba_id": sim.waba_id})
        sim.set_webhook_url(conn.webhook_url("events"))
        plan.replace(bed.integration, [plan.Step("whatsapp", conn, 0, 60), plan.Step("sms", bed.connection, 30, 15)])
        if approve:
            whatsapp.create_templates(conn, "owner")
            sim.approve_all()
            sim.webhooks.wait_idle(5)
            run_until_idle()  # the template status webhooks (not bed.run: that would use up the next shop poll)
        bed.wa, bed.wa_conn = sim, conn
        return bed

    yield make
    for sim in made:
        sim.stop()


def _run(bed, rounds=8):
    for _ in range(rounds):
        bed.run(rounds=1)
        bed.wa.webhooks.flush()
        bed.wa.wait_idle(5)


def test_templates_are_created_per_language_and_their_approval_arrives_by_webhook(wa_bed):
    bed = wa_bed(approve=False)
    assert whatsapp.create_templates(bed.wa_conn, "owner") == ["tr: PENDING", "ru: PENDING", "en: PENDING",
                                                                 "ar: PENDING"]
    created = bed.wa.templates()
    assert {t["language"] for t in created} == {"tr", "ru", "en", "ar"}
    assert all(t["category"] == "UTILITY" and len(t["buttons"]) == 3 for t in created)
    bed.wa.set_template_review("REJECTED", reason="INVALID_FORMAT")
    bed.wa.approve_all()
    _run(bed, 2)
    states = whatsapp.template_states(bed.wa_conn)
    assert {lang: s["status"] for lang, s in states.items()} == dict.fromkeys(("tr", "ru", "en", "ar"), "REJECTED")
    assert states["tr"]["reason"] == "INVALID_FORMAT"


@pytest.mark.parametrize("reply,state,status", [("confirm", "confirmed", 2), ("cancel", "cancelled", 7)])
def test_a_button_tap_decides_and_is_written_to_the_shop_once(wa_bed, reply, state, status):
    bed = wa_bed()
    bed.wa.set_wa_customer(E164, reply=reply)
    add_order(bed.shop, 3001, telephone=PHONE)
    _run(bed)
    c = Confirmation.objects.get(order_id=3001)
    assert c.state == state and bed.order_status(3001) == status
    assert len(bed.history(3001)) == 1 and bed.sim.messages() == []  # no SMS: WhatsApp answered
    sent = bed.wa.messages()
    assert len(sent) == 1 and sent[0]["statuses"] == ["sent", "delivered", "read"]
    body = sent[0]["body"]
    attempt = Attempt.objects.get(confirmation=c)
    effect = SideEffect.objects.get(key=attempt.key)  # the outbox row: its correlation number rides with the message
    assert body["biz_opaque_callback_data"] == str(effect.correlation) and body["to"] == E164
    assert effect.state == "sent" and effect.provider_id == sent[0]["id"]
    assert body["template"]["language"]["code"] == "tr"
    assert sent[0]["payloads"] == [f"{attempt.key}#confirm", f"{attempt.key}#cancel", f"{attempt.key}#agent"]
    assert attempt.state == "answered" and attempt.provider_id == sent[0]["id"]
    timeline = Exchange.objects.filter(order_id=3001, service="whatsapp", direction="in")
    assert {e.error.split(" (")[0] for e in timeline} >= {"WhatsApp sent", "WhatsApp delivered", "WhatsApp read"}


def test_talk_to_a_person_hands_the_order_to_a_person(wa_bed):
    bed = wa_bed()
    bed.wa.set_wa_customer(E164, reply="agent")
    add_order(bed.shop, 3002, telephone=PHONE)
    _run(bed)
    c = Confirmation.objects.get(order_id=3002)
    assert c.state == "needs_person" and c.needs_person_reason == "asked for a person"
    assert bed.order_status(3002) == 1 and bed.sim.messages() == []


def test_free_text_goes_through_the_sms_reply_parser(wa_bed):
    bed = wa_bed()
    bed.wa.set_wa_customer(E164, text="evet onaylıyorum")
    add_order(bed.shop, 3003, telephone=PHONE)
    _run(bed)
    assert Confirmation.objects.get(order_id=3003).state == "confirmed" and bed.order_status(3003) == 2


def test_not_on_whatsapp_moves_to_the_next_channel_at_once(wa_bed):
    bed = wa_bed()
    bed.wa.set_wa_customer(E164, on_whatsapp=False)
    bed.sim.set_customer(E164, sms_reply="EVET")
    add_order(bed.shop, 3004, telephone=PHONE)
    _run(bed)  # no clock travel: the SMS step's 30 minutes do not apply to a message that reached nobody
    c = Confirmation.objects.get(order_id=3004)
    assert [(a.channel, a.state) for a in c.attempts.all()] == [("whatsapp", "undelivered"), ("sms", "answered")]
    assert c.state == "confirmed" and len(bed.sim.messages()) == 1
    assert c.transitions.filter(reason__startswith="WhatsApp message failed (131026").exists()


def test_a_confirmation_template_meta_reports_failed_no_longer_counts_against_the_daily_caps(wa_bed):
    """Meta takes the template, then reports it failed (131026, not on WhatsApp): it never reached the customer and
    Meta charges only delivered templates (whatsapp.md §6), so its outbox row is failed (provider id kept) and the
    day's WhatsApp count (core.spend) no longer includes it; the SMS that followed does count."""
    bed = wa_bed()
    bed.wa.set_wa_customer(E164, on_whatsapp=False)
    bed.sim.set_customer(E164, sms_reply="EVET")
    add_order(bed.shop, 3014, telephone=PHONE)
    _run(bed)
    [template] = bed.wa.messages()
    attempt = Attempt.objects.get(confirmation__order_id=3014, channel="whatsapp")
    effect = SideEffect.objects.get(key=attempt.key)
    assert (effect.state, effect.provider_id) == ("failed", template["id"]) and "131026" in effect.error
    counts = spend.today(bed.store)["counts"]
    assert (counts["whatsapp"], counts["sms"]) == (0, 1)


UNDELIVERED_LAST = {"en": "attempt 1: whatsapp reported it undelivered; no step left",
                    "tr": "1. deneme: whatsapp iletilemediğini bildirdi; başka adım kalmadı",
                    "ru": "попытка 1: whatsapp сообщил, что сообщение не доставлено; шагов больше нет"}


def _ended_undelivered(bed, c: Confirmation) -> None:
    """The case went to a person saying its last message never reached the customer (each reader in their language),
    and the phone got no "unanswered" risk mark: the customer never received anything."""
    from ocbridge.integrations.cod_confirm import risk

    assert (c.state, c.needs_person_reason, c.attempts_made) == ("needs_person", "undelivered", 1)
    last = c.transitions.get(to_state="needs_person")
    assert last.reason == UNDELIVERED_LAST["en"] and last.reason_said is not None
    assert not c.transitions.filter(reason__startswith="no answer after").exists()
    assert risk.lookup(bed.store, E164).counts["unanswered"] == 0
    bed.assert_confirmation_reads(c, UNDELIVERED_LAST)


def test_a_template_meta_reports_failed_on_the_last_step_ends_undelivered_with_no_unanswered_risk_mark(wa_bed):
    """The plan has WhatsApp only; Meta takes the template, then reports it failed (131026, not on WhatsApp). The case
    goes to a person saying the message never reached the customer, and records no "unanswered" risk mark for the
    phone (before: "no answer after 1 attempt", and an "unanswered" counted against the number in every sharing
    store, though the customer never received anything)."""
    bed = wa_bed()
    plan.replace(bed.integration, [plan.Step("whatsapp", bed.wa_conn, 0, 60)])
    bed.wa.set_wa_customer(E164, on_whatsapp=False)
    add_order(bed.shop, 3016, telephone=PHONE)
    _run(bed)
    c = Confirmation.objects.get(order_id=3016)
    assert [(a.channel, a.state) for a in c.attempts.all()] == [("whatsapp", "undelivered")]
    assert c.transitions.filter(reason__startswith="WhatsApp message failed (131026").exists()
    assert len(bed.wa.messages()) == 1
    _ended_undelivered(bed, c)


def test_a_failed_template_then_an_sms_step_skipped_for_the_region_ends_undelivered_with_no_unanswered_risk_mark(
        wa_bed):
    """Meta reports the template failed (131026); the plan's SMS step is then skipped (SMS goes to Azerbaijani numbers
    only). Nothing reached the customer: the case ends as for a failed last step — to a person saying so, no
    "unanswered" risk mark (before: "no answer after 1 attempt" and the mark, as the skip did not know)."""
    bed = wa_bed(sms_countries=["AZ"])
    bed.wa.set_wa_customer(E164, on_whatsapp=False)
    add_order(bed.shop, 3017, telephone=PHONE)
    _run(bed)
    c = Confirmation.objects.get(order_id=3017)
    assert [(a.channel, a.state) for a in c.attempts.all()] == [("whatsapp", "undelivered")]
    assert c.transitions.filter(reason="step 2 (sms) skipped: SMS is not sent to numbers in TR").exists()
    assert len(bed.wa.messages()) == 1 and bed.sim.messages() == []
    _ended_undelivered(bed, c)


def test_a_failed_status_that_overtakes_the_templates_send_fails_its_row_once_the_send_is_written(wa_bed):
    """Meta's failed status can arrive while the template's outbox row is still 'sending' (Meta answered; the
    sender has not written it yet): the next step goes at once, and the status is applied again (a retry) once the
    row is sent, so it ends failed instead of becoming 'sent' after us and counting for good."""
    from ocbridge.core import outbox
    from ocbridge.core.errors import RetryableError
    from ocbridge.integrations.cod_confirm.whatsapp_events import apply_status

    bed = wa_bed()
    bed.wa.set_wa_customer(E164, reply=None)
    add_order(bed.shop, 3015, telephone=PHONE)
    _run(bed, 3)
    [template] = bed.wa.messages()
    attempt = Attempt.objects.get(confirmation__order_id=3015, channel="whatsapp")
    assert attempt.state == "in_flight"
    # As it was before the sender wrote Meta's answer: the status names it by our correlation number only.
    SideEffect.objects.filter(key=attempt.key).update(state="sending", provider_id="")
    Attempt.objects.filter(pk=attempt.pk).update(provider_id="")
    effect = SideEffect.objects.get(key=attempt.key)
    ev = {"provider_id": template["id"], "status": "failed", "callback_data": str(effect.correlation),
          "errors": [(131026, "Message undeliverable")]}
    with pytest.raises(RetryableError):
        apply_status(None, bed.wa_conn, ev, None)
    assert SideEffect.objects.get(pk=effect.pk).state == "sending"
    assert Attempt.objects.get(pk=attempt.pk).state == "undelivered"  # the next step did not wait for the retry
    assert outbox.sent(effect, template["id"])  # the sender writes Meta's answer
    assert spend.today(bed.store)["counts"]["whatsapp"] == 1
    apply_status(None, bed.wa_conn, ev, None)  # the retry
    effect.refresh_from_db()
    assert (effect.state, effect.provider_id) == ("failed", template["id"]) and "131026" in effect.error
    assert spend.today(bed.store)["counts"]["whatsapp"] == 0


def test_a_russian_number_skips_whatsapp_by_default(wa_bed):
    bed = wa_bed()
    bed.sim.set_customer("+79123456789", sms_reply="ДА")
    add_order(bed.shop, 3005, telephone="+7 912 345-67-89")
    _run(bed)
    c = Confirmation.objects.get(order_id=3005)
    assert bed.wa.messages() == [] and [a.channel for a in c.attempts.all()] == ["sms"]
    assert c.transitions.filter(reason="step 1 (whatsapp) skipped: WhatsApp is not used for numbers in RU").exists()


def test_a_lost_answer_is_never_resent_and_the_status_webhook_settles_it(wa_bed):
    bed = wa_bed()
    bed.wa.set_wa_customer(E164, reply=None, statuses="delivered")
    bed.sim.set_customer(E164, sms_reply=None)
    # Meta took the message, then its answer was a 500 (131000): it may have been sent — never sent blindly again.
    bed.wa.fail_next("500", path=f"/v25.0/{bed.wa.phone_number_id}/messages", after=True)
    add_order(bed.shop, 3006, telephone=PHONE)
    _run(bed)
    clock.travel(5 * 60)  # the job's retry is due: it finds the earlier request and does not resend
    _run(bed)
    c = Confirmation.objects.get(order_id=3006)
    attempt = c.attempts.get(channel="whatsapp")
    assert len(bed.wa.messages()) == 1  # sent once; the retry did not send again
    assert attempt.state == "unknown" and attempt.provider_id == bed.wa.messages()[0]["id"]  # settled by status
    assert c.transitions.filter(reason__contains="outcome unknown").exists()
    clock.travel(61 * 60)  # the message may still be answered for its 60-minute window: then the next channel
    _run(bed)
    assert [a.channel for a in c.attempts.all()] == ["whatsapp", "sms"]  # the next channel took over
    bed.wa.tap(attempt.provider_id, "confirm")  # the customer answers the message after all: still applied
    _run(bed)
    assert Confirmation.objects.get(order_id=3006).state == "confirmed" and bed.order_status(3006) == 2


def test_forged_and_replayed_webhooks_change_nothing(wa_bed, client):
    bed = wa_bed()
    bed.wa.set_wa_customer(E164, reply=None)
    add_order(bed.shop, 3007, telephone=PHONE)
    _run(bed)
    attempt = Attempt.objects.get(confirmation__order_id=3007)
    url = bed.wa_conn.webhook_url("events").split("://", 1)[1].split("/", 1)[1]
    tap = {"object": "whatsapp_business_account", "entry": [{"id": bed.wa.waba_id, "changes": [{"field": "messages",
           "value": {"messaging_product": "whatsapp", "metadata": {"phone_number_id": bed.wa.phone_number_id},
                     "messages": [{"from": "905321234567", "id": "wamid.FORGED", "type": "button",
                                   "context": {"id": attempt.provider_id},
                                   "button": {"payload": f"{attempt.key}#cancel", "text": "İptal et"}}]}}]}]}
    body = json.dumps(tap).encode()
    forged = client.post(f"/{url}", body, content_type="application/json",
                         HTTP_X_HUB_SIGNATURE_256=sign("not-the-secret", body))
    unsigned = client.post(f"/{url}", body, content_type="application/json")
    assert forged.status_code == 403 and unsigned.status_code == 403
    assert Confirmation.objects.get(order_id=3007).state == "whatsapp_sent"
    signed = sign(SECRET, body)
    assert client.post(f"/{url}", body, content_type="application/json", HTTP_X_HUB_SIGNATURE_256=signed).status_code == 200
    _run(bed)
    assert Confirmation.objects.get(order_id=3007).state == "cancelled"
    clock.travel(8 * 24 * 3600)  # Meta may redeliver for up to 7 days; housekeeping keeps these jobs
    from ocbridge.core.housekeeping import PruneOldRows
    from ocbridge.core.jobs import run_job

    run_job(Job.objects.enqueue(PruneOldRows, key="prune-test").pk)
    assert client.post(f"/{url}", body, content_type="application/json", HTTP_X_HUB_SIGNATURE_256=signed).status_code == 200
    _run(bed)
    assert Job.objects.filter(key__endswith="whatsapp-event:wamid.FORGED").count() == 1
    assert len(bed.history(3007)) == 1 and bed.order_status(3007) == 7


def test_the_webhook_handshake_answers_the_challenge_only_with_the_verify_token(wa_bed):
    bed = wa_bed(approve=False)
    assert bed.wa.verify_webhook(VERIFY, "4242") == {"status": 200, "body": "4242"}
    assert bed.wa.verify_webhook("wrong", "4242")["status"] == 403


def test_a_template_not_yet_approved_hands_over_to_the_next_step(wa_bed):
    bed = wa_bed(approve=False)
    bed.sim.set_customer(E164, sms_reply="EVET")
    add_order(bed.shop, 3008, telephone=PHONE)
    _run(bed)
    c = Confirmation.objects.get(order_id=3008)
    assert [(a.channel, a.state) for a in c.attempts.all()] == [("whatsapp", "failed"), ("sms", "answered")]
    assert c.state == "confirmed" and bed.wa.messages() == []


def test_the_whatsapp_message_carries_the_address_link_once_its_template_is_approved(wa_bed):
    from django.test import Client

    from ocbridge.integrations.cod_confirm import address

    bed = wa_bed(approve=False)
    bed.configure(whatsapp_address_link=True)
    done = whatsapp.create_templates(bed.wa_conn, "owner")
    assert done == ["tr: PENDING", "ru: PENDING", "en: PENDING", "ar: PENDING", "address tr: PENDING",
                    "address ru: PENDING", "address en: PENDING", "address ar: PENDING"]
    bed.wa.approve_all()
    bed.wa.webhooks.wait_idle(5)
    run_until_idle()
    assert whatsapp.template_states(bed.wa_conn, whatsapp.LINK_TEMPLATE)["tr"]["status"] == "APPROVED"
    assert whatsapp.template_states(bed.wa_conn)["tr"]["status"] == "APPROVED"  # the plain one is apart
    bed.wa.set_wa_customer(E164, reply=None)
    add_order(bed.shop, 3101, telephone=PHONE)
    _run(bed, 3)
    c = Confirmation.objects.get(order_id=3101)
    sent = bed.wa.messages()[-1]["body"]["template"]
    assert sent["name"] == whatsapp.LINK_TEMPLATE
    params = {p["parameter_name"]: p["text"] for p in sent["components"][0]["parameters"]}
    link = params["address_link"]
    assert address.confirmation_of(link.rstrip("/").rsplit("/", 1)[1]) == c
    page = Client().get("/" + link.split("//", 1)[1].split("/", 1)[1])
    assert page.status_code == 200 and "Siparişimi onayla" in page.content.decode()
    from django.contrib.auth.models import User
    from django.urls import reverse

    owner = Client()
    owner.force_login(User.objects.create_superuser("root", password="pw"))
    html = owner.get(reverse("dashboard:whatsapp-templates", args=[bed.wa_conn.pk])).content.decode()
    assert f'data-template="{whatsapp.LINK_TEMPLATE}"' in html and f'data-template="{whatsapp.TEMPLATE_NAME}"' in html


def _pay_bed(wa_bed, *, plain_approved=False):
    """A store offering paying now (an APS integration switched on) with the plain and the Pay-now templates; with
    `plain_approved` the plain one was approved before the store switched paying now on."""
    from ocbridge.core.models import Integration

    bed = wa_bed(approve=plain_approved, pay_wait_hours=2)
    aps = Connection.objects.create(store=bed.store, service="aps", base_url="http://127.0.0.1:9",
                                    secret={"merchant_identifier": "m", "access_code": "a",
                                            "sha_request_phrase": "q", "sha_response_phrase": "r"})
    Integration.objects.create(store=bed.store, kind="aps", connection=aps,
                               settings={"paid_status_id": 15, "link_hours": 48})
    bed.configure(pay_offer=True)
    done = whatsapp.create_templates(bed.wa_conn, "owner")
    assert done[-4:] == ["pay tr: PENDING", "pay ru: PENDING", "pay en: PENDING", "pay ar: PENDING"]
    return bed


def _approve(bed):
    bed.wa.approve_all()
    bed.wa.webhooks.wait_idle(5)
    run_until_idle()


def _pay_links(bed) -> list[dict]:
    """Pay links sent by SMS (the plan's SMS step, through the Sandbox simulator)."""
    return [m for m in bed.sim.messages() if "/pay/" in (m.get("text") or "")]


def _chat_links(bed) -> list[dict]:
    """Pay links sent as a free-form text in the WhatsApp chat (the Cloud API simulator)."""
    return [m for m in bed.wa.messages() if m["type"] == "text" and "/pay/" in m["body"]["text"]["body"]]


def test_the_pay_now_button_sends_one_link_however_often_it_is_tapped_or_typed(wa_bed):
    """Meta's shapes (developers.facebook.com/documentation/business-messaging/whatsapp/templates/components,
    "Quick reply buttons": at most 10 per template, label at most 25 characters, created as {type: QUICK_REPLY,
    text}; sent as {type: button, sub_type: quick_reply, index, parameters: [{type: payload, payload}]}; a tap
    comes back as messages[].button{payload, text} with context.id = our message (webhooks/reference/messages/
    button)). The tapped and the typed choice take the same path and the same keys: one Payment, one link."""
    from ocbridge.integrations.payments.models import Payment

    bed = _pay_bed(wa_bed)
    created = {t["language"]: t for t in bed.wa.templates() if t["name"] == whatsapp.PAY_TEMPLATE}
    assert created["ru"]["buttons"] == ["Подтвердить", "Отменить", "Связаться с оператором", "Оплатить картой сейчас"]
    assert all(len(b) <= 25 for t in created.values() for b in t["buttons"])
    assert "Şimdi kartla öde" in created["tr"]["body"] and not created["tr"]["body"].endswith("}}")
    _approve(bed)
    bed.wa.set_wa_customer(E164, reply="pay")
    add_order(bed.shop, 3201, telephone=PHONE)
    _run(bed)
    c = Confirmation.objects.get(order_id=3201)
    assert c.state == "awaiting_payment"
    sent = bed.wa.messages()[0]  # the template; the pay link follows it in the chat
    template = sent["body"]["template"]
    assert template["name"] == whatsapp.PAY_TEMPLATE
    attempt = Attempt.objects.get(confirmation=c)
    buttons = [comp for comp in template["components"] if comp["type"] == "button"]
    assert buttons[3] == {"type": "button", "sub_type": "quick_reply", "index": "3",
                          "parameters": [{"type": "payload", "payload": f"{attempt.key}#pay"}]}
    assert (attempt.state, attempt.answer) == ("answered", "pay")
    [payment] = Payment.objects.filter(order_id=3201)
    # in the chat the customer tapped in (its window is open), not by SMS
    assert len(_chat_links(bed)) == 1 and _chat_links(bed)[0]["to"] == E164 and _pay_links(bed) == []
    bed.wa.tap(sent["id"], "pay")  # tapped again, then typed: nothing more
    bed.wa.write(E164, "ÖDE")
    _run(bed, 3)
    assert Payment.objects.filter(order_id=3201).count() == 1 and len(_chat_links(bed)) == 1
    assert Job.objects.filter(kind="cod_confirm.send_pay_link").count() == 1
    c.refresh_from_db()
    assert c.state == "awaiting_payment" and payment.state in ("created", "pending")
    # chosen once (on WhatsApp), its link sent once (in the WhatsApp chat)
    assert list(c.transitions.filter(to_state="awaiting_payment").order_by("pk").values_list("channel", flat=True)) \
        == ["whatsapp", "whatsapp"]
    # Not paid in time → a person; choosing again then changes nothing (its keys are used: no second link, and
    # no case waiting for ever without a deadline).
    Job.objects.filter(kind="cod_confirm.pay_wait_over").update(next_run_at=clock.now())
    run_until_idle()
    bed.wa.write(E164, "PAY")
    _run(bed, 2)
    c.refresh_from_db()
    assert (c.state, c.needs_person_reason) == ("needs_person", "not paid in time")
    assert len(_chat_links(bed)) == 1 and _pay_links(bed) == []


def test_typing_pay_then_tapping_the_button_sends_one_link(wa_bed):
    bed = _pay_bed(wa_bed)
    _approve(bed)
    bed.wa.set_wa_customer(E164, text="öde")
    add_order(bed.shop, 3202, telephone=PHONE)
    _run(bed)
    c = Confirmation.objects.get(order_id=3202)
    assert c.state == "awaiting_payment" and len(_chat_links(bed)) == 1
    bed.wa.tap(bed.wa.messages()[0]["id"], "pay")
    _run(bed, 2)
    assert len(_chat_links(bed)) == 1 and Job.objects.filter(kind="cod_confirm.send_pay_link").count() == 1


def test_until_the_pay_template_is_approved_the_plain_one_goes_and_typing_pay_still_works(wa_bed):
    bed = _pay_bed(wa_bed, plain_approved=True)
    bed.wa.set_wa_customer(E164, reply="pay")  # no such button: the customer types it
    add_order(bed.shop, 3203, telephone=PHONE)
    _run(bed)
    sent = bed.wa.messages()[0]
    assert sent["body"]["template"]["name"] == whatsapp.TEMPLATE_NAME and len(sent["payloads"]) == 3
    assert Confirmation.objects.get(order_id=3203).state == "awaiting_payment" and len(_chat_links(bed)) == 1


def test_a_pay_tap_after_the_store_stopped_offering_it_goes_to_a_person(wa_bed):
    from django.contrib.auth.models import User
    from django.test import Client
    from django.urls import reverse

    bed = _pay_bed(wa_bed)
    _approve(bed)
    bed.wa.set_wa_customer(E164, reply=None)
    add_order(bed.shop, 3204, telephone=PHONE)
    _run(bed, 3)
    owner = Client()
    owner.force_login(User.objects.create_superuser("root", password="pw"))
    html = owner.get(reverse("dashboard:whatsapp-templates", args=[bed.wa_conn.pk]),
                     HTTP_ACCEPT_LANGUAGE="tr").content.decode()
    assert f'data-template="{whatsapp.PAY_TEMPLATE}"' in html and "Şimdi kartla öde" in html
    bed.configure(pay_offer=False)
    bed.wa.tap(bed.wa.messages()[0]["id"], "pay")
    _run(bed, 2)
    c = Confirmation.objects.get(order_id=3204)
    assert (c.state, c.needs_person_reason) == ("needs_person", "pay now switched off") and _pay_links(bed) == []


def _pay_chosen_on_whatsapp(wa_bed, order_id: int, *, fault=None, on_whatsapp: bool = True, age: float = 0.0):
    """The confirmation template went out; then (a fault queued at Meta first) the customer taps "Pay now by card"
    (`age` seconds ago by Meta's timestamp, its webhook only now). Returns the bed (`bed.tap`: the inbound message);
    the tap's webhook has arrived but no job has run on it yet."""
    bed = _pay_bed(wa_bed)
    _approve(bed)
    bed.wa.set_wa_customer(E164, reply=None)
    bed.sim.set_customer(E164, sms_reply=None)
    add_order(bed.shop, order_id, telephone=PHONE)
    _run(bed, 3)
    [template] = bed.wa.messages()
    if not on_whatsapp:  # Meta takes the text, then reports it undeliverable (131026)
        bed.wa.set_wa_customer(E164, on_whatsapp=False)
    if fault:
        bed.wa.fail_next(fault, path=f"/v25.0/{bed.wa.phone_number_id}/messages", after=True)
    bed.tap = bed.wa.tap(template["id"], "pay", age=age)
    bed.wa.webhooks.flush()
    bed.wa.webhooks.wait_idle(5)
    return bed


def _chat_effect() -> SideEffect:
    return SideEffect.objects.get(key__contains=":pay-link:", key__endswith=":whatsapp")


def test_inside_the_chat_window_the_pay_link_is_a_whatsapp_text_and_no_sms(wa_bed):
    """whatsapp.md §2: a free-form `text` message is taken inside the customer service window, 24 h from the
    customer's last message — the tap that chose to pay is one. The link goes in that chat, keyed in the outbox,
    and its statuses (sent, delivered, read) are recognised as the pay link's, not retried as an unknown attempt."""
    bed = _pay_chosen_on_whatsapp(wa_bed, 3210)
    _run(bed)
    c = Confirmation.objects.get(order_id=3210)
    assert c.state == "awaiting_payment"
    [link] = _chat_links(bed)
    assert link["to"] == E164 and "/pay/" in link["body"]["text"]["body"].split()[-1]
    assert _pay_links(bed) == []  # no SMS
    effect = _chat_effect()
    assert effect.state == "sent" and effect.provider_id == link["id"]
    assert link["body"]["biz_opaque_callback_data"] == str(effect.correlation)
    assert c.transitions.filter(reason__contains="sent by whatsapp").count() == 1
    # the window counts from Meta's time of the tap (messages[].timestamp), not from when we received it
    payload = Job.objects.get(kind="cod_confirm.send_pay_link").payload
    assert dt.datetime.fromisoformat(payload["wrote_at"]).timestamp() == int(bed.tap["timestamp"])
    statuses = Job.objects.filter(kind="cod_confirm.apply_whatsapp_event", payload__type="WaStatus",
                                  payload__event__provider_id=link["id"])
    assert statuses.count() >= 2 and set(statuses.values_list("state", flat=True)) == {"done"}


def test_a_chat_text_over_the_daily_whatsapp_cap_goes_to_a_person_and_no_sms(wa_bed):
    """core.spend: the confirmation template used the store's one WhatsApp message of the day; the pay link text is
    refused by the cap, and the case goes to a person with the cap named (no SMS in its place)."""
    from ocbridge.core.models import SpendPolicy

    bed = _pay_chosen_on_whatsapp(wa_bed, 3214)
    SpendPolicy.objects.create(store=bed.store, whatsapp_cap=1)
    _run(bed)
    c = Confirmation.objects.get(order_id=3214)
    assert (c.state, c.needs_person_reason) == ("needs_person", "daily cap reached")
    assert c.transitions.filter(reason="pay link not sent: the store's daily cap is reached (the daily cap of 1 "
                                       "whatsapp is reached)").count() == 1
    assert _chat_links(bed) == [] and _pay_links(bed) == []
    assert not SideEffect.objects.filter(key__contains=":pay-link:").exists()


def test_a_chat_window_closed_for_24_hours_sends_the_link_by_sms_and_says_why(wa_bed):
    """The tap reached the hub, but no worker ran it for 25 hours: a free-form text would fail (131047), so the
    link goes by SMS as before and the case says why (in the reader's language)."""
    from django.utils import translation

    from ocbridge.integrations.cod_confirm.reasons import translate_reason

    bed = _pay_chosen_on_whatsapp(wa_bed, 3211)
    clock.travel(25 * 3600)
    _run(bed)
    c = Confirmation.objects.get(order_id=3211)
    assert c.state == "awaiting_payment"
    assert _chat_links(bed) == [] and len(_pay_links(bed)) == 1 and _pay_links(bed)[0]["to"] == E164
    why = c.transitions.get(reason__startswith="pay link not sent in the WhatsApp chat").reason
    assert why == ("pay link not sent in the WhatsApp chat: the customer's last WhatsApp message is more than 24 "
                   "hours old; sending it by SMS")
    with translation.override("tr"):
        assert translate_reason(why) != why
    assert not SideEffect.objects.filter(key__contains=":pay-link:", key__endswith=":whatsapp").exists()


def test_a_tap_meta_timestamped_over_24_hours_ago_but_received_now_sends_the_link_by_sms(wa_bed):
    """Meta counts the window from the customer's message: "Whenever a WhatsApp user messages you … a 24-hour timer
    called a customer service window starts" (developers.facebook.com/documentation/business-messaging/whatsapp/
    messages/send-messages, "Customer service windows"), and the webhook carries Meta's time of that message,
    `messages[].timestamp`, Unix seconds as a string (…/whatsapp/webhooks/reference/messages/button). Meta redelivers
    a webhook we missed for up to 7 days (whatsapp.md §4): a tap 25 hours old by Meta's clock that reaches us only
    now has no open window — the link goes by SMS, and no chat text is tried (it would fail with 131047)."""
    bed = _pay_chosen_on_whatsapp(wa_bed, 3215, age=25 * 3600)
    received = Exchange.objects.filter(service="whatsapp", direction="in", event_id__contains=bed.tap["id"]).get()
    assert abs((clock.now() - received.created).total_seconds()) < 600  # received now, by our clock
    _run(bed)
    c = Confirmation.objects.get(order_id=3215)
    assert c.state == "awaiting_payment"
    assert _chat_links(bed) == [] and len(_pay_links(bed)) == 1 and _pay_links(bed)[0]["to"] == E164
    assert c.transitions.filter(reason="pay link not sent in the WhatsApp chat: the customer's last WhatsApp message "
                                       "is more than 24 hours old; sending it by SMS").count() == 1
    assert not SideEffect.objects.filter(key__contains=":pay-link:", key__endswith=":whatsapp").exists()


def test_the_chat_window_starts_at_our_receive_time_when_metas_timestamp_is_absent_or_unreadable():
    """services.whatsapp keeps `messages[].timestamp` only when it is a positive whole number of seconds; without it
    the window counts from our receive time, and a Meta time later than that (clocks that disagree) never
    lengthens it."""
    from types import SimpleNamespace

    from ocbridge.integrations.cod_confirm import pay
    from ocbridge.services import whatsapp as wa

    def tapped(timestamp):
        message = {"from": "905321234567", "id": "wamid.X", "type": "button", "button": {"payload": "p", "text": "t"}}
        if timestamp is not ...:
            message["timestamp"] = timestamp
        body = {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
            "metadata": {"phone_number_id": "1055"}, "messages": [message]}}]}]}
        (ev,) = wa.parse_webhook(json.dumps(body).encode())
        return ev.sent_at

    assert tapped("1749416383") == 1749416383  # the documented example value
    assert [tapped(v) for v in (..., "", "soon", "-5", "0", "1.5e9", None, {"s": 1}, "9" * 12, "١٧٤٩")] == [None] * 10
    received = SimpleNamespace(created=dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.timezone.utc))
    assert pay.wrote_at(None, received) == received.created
    assert pay.wrote_at(int(received.created.timestamp()) - 3600, received) == received.created - dt.timedelta(hours=1)
    assert pay.wrote_at(int(received.created.timestamp()) + 3600, received) == received.created


def test_a_chat_text_whose_answer_was_lost_is_not_sent_again_nor_followed_by_an_sms(wa_bed):
    """Meta took the text, then its answer was a 500: it may have gone (DESIGN: 5xx = unknown). The job run again
    (a retry, or a worker killed after the call) neither sends it again nor sends the SMS; the status webhook,
    which echoes our correlation number in biz_opaque_callback_data, names the message."""
    bed = _pay_chosen_on_whatsapp(wa_bed, 3212, fault="500")
    _run(bed)
    assert len(_chat_links(bed)) == 1
    job = Job.objects.get(kind="cod_confirm.send_pay_link")
    for _ in range(2):  # run again, as a retry or a new worker after a killed one would
        Job.objects.filter(pk=job.pk).update(state="queued", next_run_at=clock.now(), attempts=0)
        clock.travel(5 * 60)
        _run(bed, 3)
    [link] = _chat_links(bed)
    assert _pay_links(bed) == []
    effect = _chat_effect()
    assert effect.state == "sent" and effect.provider_id == link["id"]  # settled by the status
    assert Confirmation.objects.get(order_id=3212).state == "awaiting_payment"


def test_a_chat_text_meta_reports_failed_is_followed_by_one_sms(wa_bed):
    bed = _pay_chosen_on_whatsapp(wa_bed, 3213, on_whatsapp=False)
    _run(bed)
    _run(bed, 3)
    c = Confirmation.objects.get(order_id=3213)
    assert len(_chat_links(bed)) == 1 and len(_pay_links(bed)) == 1 and c.state == "awaiting_payment"
    assert c.transitions.filter(reason="pay link not sent in the WhatsApp chat: WhatsApp could not deliver it "
                                       "(131026 Message undeliverable); sending it by SMS").count() == 1
    # It never reached the customer: its outbox row is failed, so it no longer counts against the day's WhatsApp
    # cap (core.spend) — only the confirmation template does.
    effect = _chat_effect()
    assert (effect.state, effect.provider_id) == ("failed", _chat_links(bed)[0]["id"]) and "131026" in effect.error
    assert spend.today(bed.store)["counts"]["whatsapp"] == 1


def test_a_failed_status_that_overtakes_the_chat_texts_send_fails_its_row_once_the_send_is_written(wa_bed):
    """As for the template: Meta's failed status of the pay-link chat text can arrive while its outbox row is still
    'sending' (Meta answered; the sender has not written it yet). The SMS goes at once, and the status is applied
    again (a retry) once the row is sent, so it ends failed instead of becoming 'sent' after us and counting against
    the WhatsApp cap for good; the retry and a redelivered status send no second SMS."""
    from ocbridge.core import outbox
    from ocbridge.core.errors import RetryableError
    from ocbridge.integrations.cod_confirm.whatsapp_events import apply_status

    bed = _pay_chosen_on_whatsapp(wa_bed, 3216)
    _run(bed)
    [link] = _chat_links(bed)
    # As it was before the sender wrote Meta's answer: the status names it by our correlation number only.
    SideEffect.objects.filter(pk=_chat_effect().pk).update(state="sending", provider_id="")
    effect = _chat_effect()
    ev = {"provider_id": link["id"], "status": "failed", "callback_data": str(effect.correlation),
          "errors": [(131026, "Message undeliverable")]}
    with pytest.raises(RetryableError):
        apply_status(None, bed.wa_conn, ev, None)
    assert _chat_effect().state == "sending"
    # the SMS in its place is queued at once, not after the retry
    assert Job.objects.filter(kind="cod_confirm.send_pay_link", key__endswith=":after-chat").count() == 1
    assert outbox.sent(effect, link["id"])  # the sender writes Meta's answer
    assert spend.today(bed.store)["counts"]["whatsapp"] == 2
    apply_status(None, bed.wa_conn, ev, None)  # the retry
    effect.refresh_from_db()
    assert (effect.state, effect.provider_id) == ("failed", link["id"]) and "131026" in effect.error
    assert spend.today(bed.store)["counts"]["whatsapp"] == 1  # the confirmation template alone
    apply_status(None, bed.wa_conn, ev, None)  # Meta redelivers the status
    _run(bed, 3)
    c = Confirmation.objects.get(order_id=3216)
    assert len(_pay_links(bed)) == 1 and c.state == "awaiting_payment"
    assert c.transitions.filter(reason="pay link not sent in the WhatsApp chat: WhatsApp could not deliver it "
                                       "(131026 Message undeliverable); sending it by SMS").count() == 1


class Killed(BaseException):
    """What SIGKILL does to a job, in-process (as tests/reliability/test_crash.py): it stops mid-run, the runner records
    nothing, its claim stays until it runs out."""


def _kill_when_meta_took(monkeypatch, taken) -> list:
    """The worker dies right after Meta took the message whose outbox row `taken(effect)` picks, before the outbox
    recorded Meta's answer: the row stays 'sending' under the dead run's claim (a template's attempt stays
    'requested'). Returns the list the killed row's key goes in."""
    from ocbridge.core import outbox

    real, hit = outbox.sent, []

    def sent(effect, *args, **kwargs):
        if not hit and taken(effect):
            hit.append(effect.key)
            raise Killed(effect.key)
        return real(effect, *args, **kwargs)

    monkeypatch.setattr(outbox, "sent", sent)
    return hit


def _kill_when_the_chat_text_is_taken(monkeypatch) -> list:
    return _kill_when_meta_took(monkeypatch, lambda e: ":pay-link:" in e.key and e.key.endswith(":whatsapp"))


def _kill_when_the_template_is_taken(monkeypatch) -> list:
    return _kill_when_meta_took(monkeypatch, lambda e: e.service == "whatsapp" and ":attempt:" in e.key)


def _until_killed(bed, hit, last_status: str, messages=None) -> dict:
    """Run until the worker is killed; then wait until Meta's statuses of the killed message, up to `last_status`,
    have reached the hub (stored, their jobs not run yet). `messages()`: Meta's copies, the killed one first (the
    chat texts by default; `bed.wa.messages` for the template). Returns it as Meta has it."""
    import time

    messages = messages or (lambda: _chat_links(bed))
    for _ in range(8):
        try:
            _run(bed, 1)
        except Killed:
            break
    assert hit, "the kill point was never reached"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        sent = messages()
        if sent and sent[0]["statuses"][-1:] == [last_status]:
            time.sleep(0.05)  # recorded, then handed to the webhook sender
            assert bed.wa.webhooks.wait_idle(5)
            return sent[0]
        time.sleep(0.05)
    raise AssertionError(f"Meta's statuses of the killed message did not reach {last_status!r}")


def _status_jobs(provider_id: str):
    return Job.objects.filter(kind="cod_confirm.apply_whatsapp_event", payload__type="WaStatus",
                              payload__event__provider_id=provider_id)


def test_a_tap_made_after_the_test_clock_moved_days_opens_the_chat_window_by_that_clock(wa_bed):
    """The simulator stamps the customer's message (`messages[].timestamp`) on the clock the hub runs on, the test
    clock: a tap made three days into a test is "now" for the hub, so its window is open and the link goes in the
    chat (before, the wall-clock stamp was three days old by the hub's clock: the link went by SMS)."""
    bed = _pay_bed(wa_bed)
    _approve(bed)
    bed.wa.set_wa_customer(E164, reply=None)
    bed.sim.set_customer(E164, sms_reply=None)
    clock.travel(3 * 24 * 3600)
    add_order(bed.shop, 3219, telephone=PHONE)
    _run(bed, 3)
    [template] = bed.wa.messages()
    tap = bed.wa.tap(template["id"], "pay")
    assert abs(int(tap["timestamp"]) - clock.now().timestamp()) < 60
    _run(bed)
    assert len(_chat_links(bed)) == 1 and _pay_links(bed) == []
    assert Confirmation.objects.get(order_id=3219).state == "awaiting_payment"


def _sms_first_pay_bed(wa_bed):
    """A store offering paying now whose plan texts first (Sandbox SMS), then WhatsApp; the customer wrote to the
    store's WhatsApp number (a question, about no order) before their order."""
    bed = _pay_bed(wa_bed)
    _approve(bed)
    plan.replace(bed.integration, [plan.Step("sms", bed.connection, 0, 15), plan.Step("whatsapp", bed.wa_conn, 30, 60)])
    bed.wa.write(E164, "merhaba, kargo ne zaman gelir?")
    _run(bed, 2)
    return bed


@pytest.mark.parametrize("hours_since", [1, 25])
def test_pay_chosen_by_sms_goes_in_the_whatsapp_chat_while_it_is_open_else_by_sms(wa_bed, hours_since):
    """The customer wrote to the store's WhatsApp number, then answered the confirmation SMS with ÖDE: within 24 h of
    their message Meta takes a free-form text (whatsapp.md §2), so the link goes in that chat, keyed in the outbox
    and counted against the WhatsApp cap like any chat text, and no SMS carries it. 25 h later the chat is shut:
    the SMS as always, nothing tried in the chat and nothing to explain."""
    bed = _sms_first_pay_bed(wa_bed)
    clock.travel(hours_since * 3600)
    bed.sim.set_customer(E164, sms_reply="ÖDE")
    add_order(bed.shop, 3220 + hours_since, telephone=PHONE)
    _run(bed)
    c = Confirmation.objects.get(order_id=3220 + hours_since)
    assert c.state == "awaiting_payment" and [a.channel for a in c.attempts.all()] == ["sms"]
    assert not c.transitions.filter(reason__startswith="pay link not sent in the WhatsApp chat").exists()
    counts = spend.today(bed.store)["counts"]
    if hours_since == 1:
        [link] = _chat_links(bed)
        assert link["to"] == E164 and _pay_links(bed) == []
        effect = _chat_effect()
        assert (effect.state, effect.provider_id, effect.kind) == ("sent", link["id"], "whatsapp")
        assert link["body"]["biz_opaque_callback_data"] == str(effect.correlation)
        assert c.transitions.filter(reason__contains="sent by whatsapp").count() == 1
        assert (counts["whatsapp"], counts["sms"]) == (1, 1)  # the chat text; the confirmation SMS
    else:
        assert _chat_links(bed) == [] and len(_pay_links(bed)) == 1
        assert not SideEffect.objects.filter(key__contains=":pay-link:", key__endswith=":whatsapp").exists()
        assert c.transitions.filter(reason__contains="sent by sms").count() == 1
        assert counts["whatsapp"] == 0


def test_a_worker_killed_after_meta_took_the_chat_text_of_an_sms_choice_sends_neither_it_again_nor_the_sms(
        wa_bed, monkeypatch):
    """Chosen by SMS, sent in the open chat; the worker dies after Meta took the text and before the outbox recorded
    it. Its job, run again once the dead claim ran out, finds the row mid-send: doubtful, so never sent again and not
    followed by the SMS (DESIGN: never resent in doubt); Meta's statuses, which overtook it, are applied once it is
    written, so the row ends sent."""
    bed = _sms_first_pay_bed(wa_bed)
    bed.sim.set_customer(E164, sms_reply="ÖDE")
    hit = _kill_when_the_chat_text_is_taken(monkeypatch)
    add_order(bed.shop, 3230, telephone=PHONE)
    _until_killed(bed, hit, "read")
    [link] = _chat_links(bed)
    assert _chat_effect().state == "sending"
    for _ in range(8):
        clock.travel(31)  # the statuses' retries; the dead run's claim runs out after 120 s
        _run(bed, 1)
    assert _chat_links(bed) == [link] and _pay_links(bed) == []
    effect = _chat_effect()
    assert (effect.state, effect.provider_id) == ("sent", link["id"])
    assert Confirmation.objects.get(order_id=3230).state == "awaiting_payment"
    assert set(_status_jobs(link["id"]).values_list("state", flat=True)) == {"done"}


def test_the_pay_link_status_note_is_written_on_the_first_pass(wa_bed, monkeypatch):
    """A failed status of the chat text that arrives while its row is still 'sending' is retried; its Exchange says
    what it was on that first pass already (before, only the retry wrote it: the log showed a bare status until
    then)."""
    bed = _pay_chosen_on_whatsapp(wa_bed, 3231, on_whatsapp=False)
    hit = _kill_when_the_chat_text_is_taken(monkeypatch)
    _until_killed(bed, hit, "failed")
    [link] = _chat_links(bed)
    from ocbridge.core.jobs import run_until_idle

    run_until_idle()  # the statuses' first pass; the row is still 'sending'
    failed = _status_jobs(link["id"]).get(payload__event__status="failed")
    assert (failed.state, failed.attempts) == ("queued", 1)
    note = Exchange.objects.get(service="whatsapp", direction="in", event_id__contains=f"{link['id']}:failed")
    assert (note.level, note.error) == ("warning", "pay link in the WhatsApp chat: failed (131026 Message undeliverable)")


def test_a_status_job_that_outlasts_a_dead_sender_settles_the_chat_text_failed_and_free(wa_bed, monkeypatch):
    """The worker died after Meta took the chat text; Meta then reported it failed (131026). The status job waits for
    the sender to record Meta's answer, which never comes (its job is not run again before the status job's last
    try). On that last try the row is settled by the status — failed, with Meta's wamid, saying its sender never
    recorded the answer — so it no longer counts against the WhatsApp cap (Meta does not bill a failed message);
    nothing is sent twice when the dead sender's job runs at last: one chat text, one SMS."""
    from ocbridge.core.jobs import run_job, run_until_idle

    bed = _pay_chosen_on_whatsapp(wa_bed, 3232, on_whatsapp=False)
    hit = _kill_when_the_chat_text_is_taken(monkeypatch)
    _until_killed(bed, hit, "failed")
    [link] = _chat_links(bed)
    run_until_idle()  # first pass: the SMS in its place goes at once
    assert len(_pay_links(bed)) == 1 and _chat_effect().state == "sending"
    jobs = list(_status_jobs(link["id"]).values_list("pk", flat=True))
    for _ in range(6):  # the status jobs' retries only: the dead sender's claim is not yet seen to have run out
        clock.travel(31)
        for pk in jobs:
            run_job(pk)
    assert set(_status_jobs(link["id"]).values_list("state", flat=True)) == {"done"}
    effect = _chat_effect()
    assert (effect.state, effect.provider_id) == ("failed", link["id"])
    assert "131026" in effect.error and "recorded Meta's answer" in effect.error
    assert spend.today(bed.store)["counts"]["whatsapp"] == 1  # the confirmation template alone
    clock.travel(200)  # the dead run's claim runs out: its job runs again
    _run(bed, 3)
    assert _chat_links(bed) == [link] and len(_pay_links(bed)) == 1
    assert _chat_effect().state == "failed" and spend.today(bed.store)["counts"]["whatsapp"] == 1
    assert Confirmation.objects.get(order_id=3232).state == "awaiting_payment"


def test_a_worker_killed_after_meta_took_the_template_ends_sent_from_its_statuses(wa_bed, monkeypatch):
    """The worker dies after Meta took the confirmation template; Meta's sent, delivered and read arrive while its
    outbox row is still 'sending'. They are applied once the row is written: the dead sender's job, run again once its
    claim ran out, finds the row mid-send and leaves it 'unknown' (never resent in doubt), and the statuses' retries
    then settle it sent with Meta's wamid (before, they were dropped on their first pass: the row ended 'unknown')."""
    bed = wa_bed()
    bed.wa.set_wa_customer(E164, reply=None)
    bed.sim.set_customer(E164, sms_reply=None)
    hit = _kill_when_the_template_is_taken(monkeypatch)
    add_order(bed.shop, 3240, telephone=PHONE)
    template = _until_killed(bed, hit, "read", bed.wa.messages)
    attempt = Attempt.objects.get(confirmation__order_id=3240, channel="whatsapp")
    assert SideEffect.objects.get(key=attempt.key).state == "sending"
    for _ in range(8):
        clock.travel(31)  # the statuses' retries; the dead run's claim runs out after 120 s
        _run(bed, 1)
    assert len(bed.wa.messages()) == 1  # never sent again
    effect = SideEffect.objects.get(key=attempt.key)
    assert (effect.state, effect.provider_id) == ("sent", template["id"])
    attempt.refresh_from_db()
    assert (attempt.state, attempt.provider_id) == ("unknown", template["id"])
    assert set(_status_jobs(template["id"]).values_list("state", flat=True)) == {"done"}


def _status_job_outlasts_the_sender(template: dict, order_id: int):
    """The statuses' first pass (the row still 'sending'), then only the status jobs' retries to their last (the dead
    sender's claim not yet seen to have run out); the WhatsApp attempt and its outbox row."""
    from ocbridge.core.jobs import run_job, run_until_idle

    run_until_idle()
    jobs = list(_status_jobs(template["id"]).values_list("pk", flat=True))
    for _ in range(6):
        clock.travel(31)
        for pk in jobs:
            run_job(pk)
    attempt = Attempt.objects.get(confirmation__order_id=order_id, channel="whatsapp")
    return attempt, SideEffect.objects.get(key=attempt.key)


def test_a_status_job_outlasting_a_dead_sender_settles_the_template_sent(wa_bed, monkeypatch):
    """As above, but the statuses' job outlasts the dead sender (its job not run again before the status job's last
    try): the row is settled sent by the status, so the sender's job, run at last, records the attempt as sent
    (waiting for the answer), not unknown; nothing is sent twice."""
    bed = wa_bed()
    bed.wa.set_wa_customer(E164, reply=None)
    bed.sim.set_customer(E164, sms_reply=None)
    hit = _kill_when_the_template_is_taken(monkeypatch)
    add_order(bed.shop, 3241, telephone=PHONE)
    template = _until_killed(bed, hit, "read", bed.wa.messages)
    attempt, effect = _status_job_outlasts_the_sender(template, 3241)
    assert (effect.state, effect.provider_id) == ("sent", template["id"])
    clock.travel(200)  # the dead run's claim runs out: its job runs again
    _run(bed, 3)
    assert len(bed.wa.messages()) == 1
    attempt.refresh_from_db()
    assert (attempt.state, attempt.provider_id) == ("in_flight", template["id"])
    assert Confirmation.objects.get(order_id=3241).state == "whatsapp_sent"


def test_a_template_meta_failed_while_its_sender_was_dead_moves_to_the_next_step_at_once(wa_bed, monkeypatch):
    """The worker dies after Meta took the template; Meta reports it failed (131026). The status job outlasts the dead
    sender: on its last try it settles the row failed and the case goes to its next step (the SMS) at once, as for a
    failed template whose send was recorded — not only when the dead sender's job runs again. That job then sends
    nothing: one template, one SMS in all, and the customer's answer decides."""
    bed = wa_bed()
    bed.wa.set_wa_customer(E164, on_whatsapp=False)
    bed.sim.set_customer(E164, sms_reply="EVET")
    hit = _kill_when_the_template_is_taken(monkeypatch)
    add_order(bed.shop, 3242, telephone=PHONE)
    template = _until_killed(bed, hit, "failed", bed.wa.messages)
    attempt, effect = _status_job_outlasts_the_sender(template, 3242)
    assert (effect.state, effect.provider_id) == ("failed", template["id"])
    assert attempt.state == "undelivered"
    c = Confirmation.objects.get(order_id=3242)
    assert c.transitions.filter(reason__startswith="WhatsApp message failed (131026").exists()
    assert Job.objects.filter(kind="cod_confirm.start_attempt", key__endswith=":attempt:2").exists()
    clock.travel(200)  # the dead run's claim runs out: its job runs again
    _run(bed)
    c = Confirmation.objects.get(order_id=3242)
    assert [(a.channel, a.state) for a in c.attempts.all()] == [("whatsapp", "undelivered"), ("sms", "answered")]
    assert c.state == "confirmed" and len(bed.wa.messages()) == 1 and len(bed.sim.messages()) == 1
    assert spend.today(bed.store)["counts"]["whatsapp"] == 0


def test_a_template_failed_before_its_dead_senders_job_recorded_it_is_a_failed_delivery_not_a_refusal(
        wa_bed, monkeypatch):
    """The plan has WhatsApp only. The row was settled failed by Meta's status (the status job's last try; it died
    before moving the case), the attempt still 'requested'. The dead sender's job, run again, finds the row failed
    with Meta's wamid: a message that never reached the customer, so the case goes to a person saying so — not
    "whatsapp refused" (before: the case failed), nor "no answer" with an "unanswered" risk mark (the same rule as
    a failed status on a recorded send)."""
    from ocbridge.core import outbox
    from ocbridge.core.sentences import Sentence
    from ocbridge.integrations.cod_confirm import whatsapp_events

    bed = wa_bed()
    plan.replace(bed.integration, [plan.Step("whatsapp", bed.wa_conn, 0, 60)])
    bed.wa.set_wa_customer(E164, on_whatsapp=False)
    hit = _kill_when_the_template_is_taken(monkeypatch)
    add_order(bed.shop, 3243, telephone=PHONE)
    template = _until_killed(bed, hit, "failed", bed.wa.messages)
    attempt = Attempt.objects.get(confirmation__order_id=3243, channel="whatsapp")
    effect = SideEffect.objects.get(key=attempt.key)
    assert outbox.undelivered_unrecorded(effect, template["id"], Sentence(
        whatsapp.UNRECORDED_FAILURE, detail="131026 Message undeliverable"))
    # The status job ended there (its last try): its statuses move nothing more.
    monkeypatch.setattr(whatsapp_events, "apply_status", lambda *args: None)
    clock.travel(200)  # the dead run's claim runs out: its job runs again
    _run(bed, 3)
    c = Confirmation.objects.get(order_id=3243)
    assert c.attempts.get().state == "undelivered" and len(bed.wa.messages()) == 1
    t = c.transitions.get(reason__startswith="attempt 1: whatsapp reported it undelivered (")
    assert "131026" in t.reason and t.reason_said is not None
    _ended_undelivered(bed, c)
