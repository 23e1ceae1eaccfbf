"""COD confirmation end to end: real MariaDB OpenCart layouts, the Sandbox simulator over HTTP, real webhooks."""

import datetime as dt

import pytest

from ocbridge.core import clock
from ocbridge.core.models import Job
from ocbridge.integrations.cod_confirm.models import Attempt, Confirmation
from opencart.opencart_helpers import add_order, set_status

pytestmark = pytest.mark.django_db(transaction=True)
PHONE = "0532 123 45 67"


@pytest.mark.parametrize("version", ["3.0", "4.0"])
def test_press_1_moves_order_to_processing_with_history(cod_bed, version):
    bed = cod_bed(version)
    add_order(bed.shop, 1001, telephone=PHONE)
    bed.sim.set_customer("+905321234567", call="confirm")
    bed.run()
    c = Confirmation.objects.get(order_id=1001)
    assert c.state == "confirmed" and c.phone == "+905321234567"
    assert bed.order_status(1001) == 2
    assert bed.history(1001)[-1][0] == 2 and "call" in bed.history(1001)[-1][1]
    assert len(bed.sim.calls()) == 1


def test_press_2_twice_cancels(cod_bed):
    bed = cod_bed("3.0")
    add_order(bed.shop, 1002, telephone="+90 532 123 4567")
    bed.sim.set_customer("+905321234567", call="cancel_twice")
    bed.run()
    assert Confirmation.objects.get(order_id=1002).state == "cancelled"
    assert bed.order_status(1002) == 7


def test_press_2_once_is_not_a_cancel(cod_bed):
    bed = cod_bed("3.0", channels=["call"], delays=[0])
    add_order(bed.shop, 1003, telephone=PHONE)
    bed.sim.set_customer("+905321234567", call="cancel")  # pressed 2, hung up at "press 2 again"
    bed.run()
    c = Confirmation.objects.get(order_id=1003)
    assert c.state == "needs_person" and bed.order_status(1003) == 1


def test_no_answer_is_retried_after_the_spacing(cod_bed):
    bed = cod_bed("3.0", channels=["call"] * 3)
    add_order(bed.shop, 1004, telephone=PHONE)
    bed.sim.set_customer("+905321234567", call=["no_answer", "confirm"])
    bed.run()
    c = Confirmation.objects.get(order_id=1004)
    assert c.state == "no_answer" and len(bed.sim.calls()) == 1
    assert c.next_attempt_at - c.created >= dt.timedelta(minutes=29)
    clock.travel(31 * 60)
    bed.run()
    assert Confirmation.objects.get(order_id=1004).state == "confirmed"
    assert len(bed.sim.calls()) == 2 and bed.order_status(1004) == 2


def test_calls_wait_for_allowed_hours(cod_bed):
    bed = cod_bed("3.0")
    bed.configure(day_hours={d: ["09:00", "21:00"] for d in "0123456"})
    # Move the shared clock to 23:00 in Istanbul today.
    ist = dt.timezone(dt.timedelta(hours=3))
    now = clock.now().astimezone(ist)
    target = now.replace(hour=23, minute=0, second=0, microsecond=0)
    clock.travel((target - now).total_seconds())
    add_order(bed.shop, 1005, telephone=PHONE)
    bed.sim.set_customer("+905321234567", call="confirm")
    bed.run()
    assert len(bed.sim.calls()) == 0
    job = Job.objects.get(kind="cod_confirm.start_attempt")
    assert job.next_run_at.astimezone(ist).hour == 9
    clock.travel(10.5 * 3600)
    bed.run()
    assert Confirmation.objects.get(order_id=1005).state == "confirmed"


def test_a_store_with_an_unknown_zone_name_keeps_its_calling_hours_in_utc(cod_bed):
    """A store row with a zone name the system does not know (the store form refuses one; an older row may have it):
    its calling hours are kept in UTC (Store.zone), so a night order waits for 09:00 UTC instead of failing its job."""
    from ocbridge.core.models import Store

    bed = cod_bed("3.0")
    Store.objects.filter(pk=bed.store.pk).update(timezone="Mars/Olympus_Mons")
    bed.configure(day_hours={d: ["09:00", "21:00"] for d in "0123456"})
    now = clock.now().astimezone(dt.timezone.utc)
    clock.travel((now.replace(hour=23, minute=0, second=0, microsecond=0) - now).total_seconds())
    add_order(bed.shop, 1016, telephone=PHONE)
    bed.sim.set_customer("+905321234567", call="confirm")
    bed.run()
    assert len(bed.sim.calls()) == 0
    job = Job.objects.get(kind="cod_confirm.start_attempt")
    assert job.state == "queued" and job.attempts == 0 and job.next_run_at.astimezone(dt.timezone.utc).hour == 9
    clock.travel(10.5 * 3600)
    bed.run()
    assert Confirmation.objects.get(order_id=1016).state == "confirmed" and len(bed.sim.calls()) == 1


def test_a_call_paused_while_off_resumes_on_switch_on_at_a_store_with_an_unknown_zone_name(cod_bed):
    """Switching on again asks whether a paused call is still inside its calling day, in the store's zone: UTC for a
    name the system does not know, so the call goes out once rather than the switch-on failing."""
    from ocbridge.core import outbox
    from ocbridge.core.jobs import run_until_idle
    from ocbridge.core.models import Integration, SideEffect, Store
    from ocbridge.core.polls import run_all as run_polls

    bed = cod_bed("3.0")
    Store.objects.filter(pk=bed.store.pk).update(timezone="Mars/Olympus_Mons")
    add_order(bed.shop, 1017, telephone=PHONE)
    bed.sim.set_customer("+905321234567", call="confirm")
    run_polls()  # the order is taken on and its first call queued
    Integration.objects.filter(pk=bed.integration.pk).update(enabled=False)
    run_until_idle()
    assert list(SideEffect.objects.values_list("state", flat=True)) == ["paused"] and bed.sim.calls() == []
    Integration.objects.filter(pk=bed.integration.pk).update(enabled=True)
    assert outbox.resume_switched_on() == (1, 0)
    bed.run()
    assert Confirmation.objects.get(order_id=1017).state == "confirmed" and len(bed.sim.calls()) == 1


@pytest.mark.parametrize("meanwhile", ["past its calling day", "decided by a person"])
def test_a_call_paused_while_off_and_not_sent_on_switch_on_is_not_made_not_unanswered(cod_bed, meanwhile):
    """Switched back on, a paused call that is not sent (its case decided meanwhile, or past its calling day) is
    'withdrawn': never made, so no 'unanswered' risk mark and not in the overview's answer rate or sent count (the old
    code stored it 'no_answer', counted as an unanswered call at its hour)."""
    from ocbridge.core import outbox
    from ocbridge.core.jobs import run_until_idle
    from ocbridge.core.models import Integration
    from ocbridge.core.polls import run_all as run_polls
    from ocbridge.dashboard import cod_stats
    from ocbridge.integrations.cod_confirm.actions import manual_decide
    from ocbridge.integrations.cod_confirm.models import PhoneTally

    bed = cod_bed("3.0")
    add_order(bed.shop, 1018, telephone=PHONE)
    bed.sim.set_customer("+905321234567", call="no_answer")
    run_polls()  # the order is taken on and its first call queued
    Integration.objects.filter(pk=bed.integration.pk).update(enabled=False)
    run_until_idle()
    c = Confirmation.objects.get(order_id=1018)
    if meanwhile == "past its calling day":
        clock.travel(2 * 86400)
    else:
        manual_decide(c, intent="confirm", user="owner", reason="phoned them from the shop")
    Integration.objects.filter(pk=bed.integration.pk).update(enabled=True)
    assert outbox.resume_switched_on() == (0, 1)
    bed.run()
    c.refresh_from_db()
    assert c.state == ("needs_person" if meanwhile == "past its calling day" else "confirmed")
    assert bed.sim.calls() == [] and list(c.attempts.values_list("state", flat=True)) == ["withdrawn"]
    assert not PhoneTally.objects.filter(unanswered__gt=0).exists()
    start, end = c.created - dt.timedelta(days=1), clock.now() + dt.timedelta(days=1)
    split, hours = cod_stats.attempt_figures(bed.store, dt.UTC, start, end)
    assert split == {} and all(h == (0, 0) for h in hours)


def test_a_call_waiting_for_calling_hours_says_so_in_each_readers_language(cod_bed):
    """The attempt's job waits outside the calling hours: its row on the jobs list and its page say why in the reader's
    language (Job.last_error_said from core.jobs.Defer), not in English only. The real flow, its jobs run in a Turkish worker."""
    from django.utils import translation

    from testkit import assert_job_reads

    bed = cod_bed("3.0")
    bed.configure(day_hours={d: ["09:00", "21:00"] for d in "0123456"})
    ist = dt.timezone(dt.timedelta(hours=3))
    now = clock.now().astimezone(ist)
    clock.travel((now.replace(hour=23, minute=0, second=0, microsecond=0) - now).total_seconds())
    add_order(bed.shop, 1015, telephone=PHONE)
    with translation.override("tr"):
        bed.run()
    job = Job.objects.get(kind="cod_confirm.start_attempt")
    at = f"{job.next_run_at.astimezone(dt.timezone.utc):%Y-%m-%d} 06:00"  # 09:00 in Istanbul
    said = {"en": f"outside calling hours; next at {at} UTC", "tr": f"arama saatleri dışında; sonraki deneme {at} UTC",
            "ru": f"вне часов для звонков; следующая попытка {at} UTC"}
    assert job.last_error == said["en"]  # the stored text, for logs: English
    assert_job_reads(job, said)


def _refused_by_netgsm(cod_bed, order_id: int):
    """A confirmation by SMS only whose SMS Netgsm refuses with its code 40 (a sender name the account does not have;
    Netgsm's words are Turkish), run in a Turkish worker against the Netgsm simulator: (bed, Confirmation)."""
    from django.utils import translation

    from testkit import simulated_connection
    from ocbridge.integrations.cod_confirm.models import ChannelStep

    bed = cod_bed("3.0", channels=["sms"], delays=[0])
    with simulated_connection("netgsm", bed.store, options={"msgheader": "NOT-OURS"}) as (_sim, netgsm):
        ChannelStep.objects.filter(integration=bed.integration).update(connection=netgsm)
        add_order(bed.shop, order_id, telephone=PHONE)
        with translation.override("tr"):
            bed.run()
    return bed, Confirmation.objects.get(order_id=order_id)


def test_a_confirmation_sms_netgsm_refuses_reads_in_each_readers_language(cod_bed):
    """A confirmation SMS that Netgsm refuses with one of its result codes (40: the sender name is not defined for the
    account; its words are Turkish): the confirmation's page gives its last error in the reader's language
    (Confirmation.last_error_said from the outbox row), not in English only. The real flow in a Turkish worker,
    against the Netgsm simulator."""
    bed, c = _refused_by_netgsm(cod_bed, 1016)
    said = {"en": "the sender name (message header) is not defined at Netgsm (code 40): Mesaj başlığınızın",
            "tr": "gönderici adı (mesaj başlığı) Netgsm'de tanımlı değil (kod 40): Mesaj başlığınızın",
            "ru": "имя отправителя (заголовок сообщения) не зарегистрировано в Netgsm (код 40): Mesaj başlığınızın"}
    assert c.state == "failed" and said["en"] in c.last_error, (c.state, c.last_error)  # the stored text: English
    bed.assert_confirmation_reads(c, said, r'<td class="err">.*?</td>')


def test_the_refusal_in_the_confirmations_history_reads_in_each_readers_language(cod_bed):
    """The same Netgsm refusal (code 40) in the confirmation's timeline: "netgsm refused: …" with Netgsm's words kept as
    they are and our framing and its explanation of the code in the reader's language (Transition.reason_said), not
    the English detail inside a translated frame. The real flow in a Turkish worker, against the Netgsm simulator."""
    from ocbridge.integrations.cod_confirm.models import Transition

    bed, c = _refused_by_netgsm(cod_bed, 1018)
    failed = Transition.objects.get(confirmation=c, to_state="failed")
    assert failed.reason.startswith("netgsm refused: netgsm: 40 the sender name"), failed.reason  # English, for logs
    said = {"en": "netgsm refused: the sender name (message header) is not defined at Netgsm (code 40): Mesaj başlığınızın",
            "tr": "netgsm reddetti: gönderici adı (mesaj başlığı) Netgsm'de tanımlı değil (kod 40): Mesaj başlığınızın",
            "ru": "netgsm отказал: имя отправителя (заголовок сообщения) не зарегистрировано в Netgsm (код 40): "
                  "Mesaj başlığınızın"}
    bed.assert_confirmation_reads(c, said)


def test_a_due_attempt_waiting_for_one_that_may_still_be_answered_says_so_in_each_readers_language(cod_bed):
    """Attempt 2 falls due (here queued at once, as the watchdog may) while attempt 1's SMS may still be answered: its
    job waits, and its row on the jobs list and its page say why in the reader's language. A Turkish worker."""
    from django.utils import translation

    from testkit import assert_job_reads
    from ocbridge.core.jobs import run_until_idle
    from ocbridge.integrations.cod_confirm.jobs import schedule_attempt

    bed = cod_bed("3.0", channels=["sms", "sms"], delays=[0, 0])
    bed.sim.set_customer("+905321234567", sms_reply=None)  # no reply: the first SMS stays inside its answer window
    add_order(bed.shop, 1019, telephone=PHONE)
    bed.run()
    c = Confirmation.objects.get(order_id=1019)
    assert c.attempts.get(number=1).state == "in_flight", list(c.attempts.values_list("number", "state"))
    schedule_attempt(c, 2, at_once=True)
    with translation.override("tr"):
        run_until_idle()
    job = Job.objects.get(kind="cod_confirm.start_attempt", payload__number=2)
    assert job.state == "queued" and not c.attempts.filter(number=2).exists()
    assert_job_reads(job, {"en": "attempt 1 may still be answered", "tr": "1. deneme hâlâ yanıtlanabilir",
                           "ru": "на попытку 1 ещё может прийти ответ"})


def test_call_then_sms_fallback_with_turkish_reply(cod_bed):
    bed = cod_bed("3.0", channels=["call", "sms"], delays=[0, 30])
    add_order(bed.shop, 1006, telephone="5321234567")
    bed.sim.set_customer("+905321234567", call="no_answer", sms_reply="İptal")
    bed.run()
    clock.travel(31 * 60)
    bed.run()
    c = Confirmation.objects.get(order_id=1006)
    assert [a.channel for a in c.attempts.all()] == ["call", "sms"]
    assert c.state == "cancelled" and bed.order_status(1006) == 7


def test_status_changed_in_shop_meanwhile_is_never_overwritten(cod_bed):
    bed = cod_bed("3.0", channels=["call"] * 3)
    add_order(bed.shop, 1007, telephone=PHONE)
    bed.sim.set_customer("+905321234567", call="no_answer")
    bed.run()
    set_status(bed.shop, 1007, 5)  # an admin completed it by hand
    clock.travel(31 * 60)
    bed.run()
    c = Confirmation.objects.get(order_id=1007)
    assert c.state == "resolved_in_shop" and bed.order_status(1007) == 5
    assert len(bed.sim.calls()) == 1


def test_order_outside_the_owners_rules_is_skipped_not_called_and_a_person_can_still_decide(cod_bed):
    from ocbridge.integrations.cod_confirm import actions

    bed = cod_bed("3.0", max_total="200")
    add_order(bed.shop, 1010, telephone=PHONE)  # total 229.90: above the owner's maximum
    bed.run()
    c = Confirmation.objects.get(order_id=1010)
    assert c.state == "skipped" and "above the maximum" in c.transitions.last().reason
    assert bed.sim.calls() == [] and bed.order_status(1010) == 1  # not called, the order untouched
    assert actions.manual_decide(c, intent="confirm", user="owner", reason="called her myself")
    bed.run()
    assert Confirmation.objects.get(order_id=1010).state == "confirmed" and bed.order_status(1010) == 2


def test_admin_change_between_answer_and_write_wins(cod_bed):
    bed = cod_bed("4.0")
    add_order(bed.shop, 1008, telephone=PHONE)
    bed.sim.set_customer("+905321234567", call="confirm")
    from ocbridge.core.polls import run_all as run_polls
    from ocbridge.core.jobs import run_until_idle

    run_polls()
    run_until_idle()
    set_status(bed.shop, 1008, 7)  # cancelled in admin while the call was ringing
    bed.run()
    c = Confirmation.objects.get(order_id=1008)
    assert c.state == "resolved_in_shop" and bed.order_status(1008) == 7
    assert all(status != 2 for status, _ in bed.history(1008))


def test_duplicate_and_out_of_order_webhooks_give_one_outcome(cod_bed):
    bed = cod_bed("3.0")
    bed.sim.set_webhook_behaviour(duplicate=3, shuffle=True)
    add_order(bed.shop, 1009, telephone=PHONE)
    bed.sim.set_customer("+905321234567", call="confirm")
    bed.run()
    assert bed.order_status(1009) == 2
    assert [s for s, _ in bed.history(1009)].count(2) == 1
    assert Job.objects.filter(kind="cod_confirm.apply_call_result").count() == 1


def test_unparseable_phone_goes_to_a_person_and_nobody_is_called(cod_bed):
    bed = cod_bed("3.0")
    add_order(bed.shop, 1010, telephone="12")
    bed.run()
    c = Confirmation.objects.get(order_id=1010)
    assert c.state == "needs_person" and "phone invalid" in c.needs_person_reason
    assert bed.sim.calls() == []


def test_provider_500_then_ok_calls_once(cod_bed):
    bed = cod_bed("3.0")
    bed.sim.fail_next("500", path="/v1/calls")
    add_order(bed.shop, 1011, telephone=PHONE)
    bed.sim.set_customer("+905321234567", call="confirm")
    bed.run()
    clock.travel(120)  # past the retry backoff
    bed.run()
    assert Confirmation.objects.get(order_id=1011).state == "confirmed"
    assert len(bed.sim.calls()) == 1


def test_answer_lost_after_the_call_was_placed_never_calls_twice(cod_bed):
    """The provider placed the call but its answer never reached us (timeout): the retry asks, not re-sends."""
    bed = cod_bed("3.0")
    bed.sim.fail_next("reset", path="/v1/calls", after=True)
    add_order(bed.shop, 1012, telephone=PHONE)
    bed.sim.set_customer("+905321234567", call="confirm")
    bed.run()
    clock.travel(120)
    bed.run()
    assert len(bed.sim.calls()) == 1
    assert Confirmation.objects.get(order_id=1012).state == "confirmed"
    assert Attempt.objects.filter(confirmation__order_id=1012).count() == 1


def test_provider_refusing_credentials_is_terminal_and_shown(cod_bed):
    bed = cod_bed("3.0")
    bed.connection.secret = {"token": "wrong-token", "webhook_secret": "sandbox-webhook-secret"}
    bed.connection.save()
    add_order(bed.shop, 1013, telephone=PHONE)
    bed.run()
    c = Confirmation.objects.get(order_id=1013)
    assert c.state == "failed" and "401" in c.last_error or "unauthorized" in c.last_error
    bed.connection.refresh_from_db()
    assert bed.connection.last_error and bed.sim.calls() == []


def test_forged_webhook_is_refused_without_state_change(cod_bed, client):
    bed = cod_bed("3.0")
    add_order(bed.shop, 1014, telephone=PHONE)
    bed.sim.set_customer("+905321234567", call="no_answer", answer_delay=3600)
    bed.run(rounds=1)
    attempt = Attempt.objects.get(confirmation__order_id=1014)
    body = ('{"event_id": "evt_forged", "type": "call.completed", "created_at": "2026-01-01T00:00:00Z", "sequence": 9, '
            '"data": {"id": "%s", "status": "completed", "digits_pressed": ["1"], "action": "confirm", "result": "ok"}}'
            % attempt.provider_id)
    url = f"/hooks/sandbox/{bed.connection.webhook_token}/call-result"
    resp = client.post(url, data=body, content_type="application/json", HTTP_X_SANDBOX_SIGNATURE="sha256=00")
    assert resp.status_code == 403
    assert Confirmation.objects.get(order_id=1014).state == "calling"
    assert not Job.objects.filter(kind="cod_confirm.apply_call_result").exists()


def test_dry_run_decides_and_logs_but_calls_nobody(cod_bed):
    bed = cod_bed("3.0", dry_run=True)
    add_order(bed.shop, 1015, telephone=PHONE)
    bed.run()
    c = Confirmation.objects.get(order_id=1015)
    assert bed.sim.calls() == [] and "dry run" in c.transitions.last().reason


def test_not_cod_or_not_pending_is_ignored(cod_bed):
    bed = cod_bed("3.0")
    add_order(bed.shop, 1016, telephone=PHONE, payment="bank_transfer")
    add_order(bed.shop, 1017, telephone=PHONE, status=2)
    bed.run()
    assert not Confirmation.objects.exists()


@pytest.mark.parametrize("reply,state,status", [("EVET", "confirmed", 2), ("evet teşekkürler 🙏", "confirmed", 2),
                                                ("ıptal", "cancelled", 7), ("НЕТ", "cancelled", 7),
                                                ("ne zaman gelir?", "needs_person", 1),
                                                ("siparisonay 1020", "confirmed", 2), ("1020iptal", "cancelled", 7),
                                                ("onay 1021", "needs_person", 1)])  # names another order: a person
def test_sms_replies_in_any_casing(cod_bed, reply, state, status):
    bed = cod_bed("3.0", channels=["sms"] * 3)
    add_order(bed.shop, 1020, telephone=PHONE)
    bed.sim.set_customer("+905321234567", sms_reply=reply)
    bed.run()
    c = Confirmation.objects.get(order_id=1020)
    assert (c.state, bed.order_status(1020)) == (state, status)
    if state == "needs_person":  # a polite answer went back, and nothing was written to the shop
        assert len(bed.sim.messages()) == 2 and bed.history(1020) == []


def test_russian_customer_on_a_provider_without_russian_voice_gets_an_sms(cod_bed):
    bed = cod_bed("3.0")
    from ocbridge.services.sandbox import SandboxClient

    if "ru" not in SandboxClient.capabilities.tts_languages:
        pytest.skip("the sandbox speaks Russian")
    add_order(bed.shop, 1021, telephone="+7 912 345-67-89", language_id=3)
    bed.sim.set_customer("+79123456789", sms_reply="да")
    bed.run()
    assert Confirmation.objects.get(order_id=1021).language == "ru"


def test_several_pending_orders_need_the_order_number(cod_bed):
    bed = cod_bed("3.0", channels=["sms"] * 3)
    add_order(bed.shop, 1030, telephone=PHONE)
    add_order(bed.shop, 1031, telephone=PHONE)
    bed.sim.set_customer("+905321234567", sms_reply="#1030 evet")
    bed.run()
    states = dict(Confirmation.objects.values_list("order_id", "state"))
    assert states[1030] == "confirmed" and bed.order_status(1030) == 2
    assert bed.order_status(1031) == 1


@pytest.mark.parametrize("version", ["3.0", "4.0"])
def test_outcome_goes_through_the_native_api_when_configured(cod_bed, version):
    from ocbridge.core.models import Exchange
    from ocbridge.opencart.reference import DEFAULT_API_KEY
    from ocbridge.simulators.opencart_api import OpenCartApiSimulator

    bed = cod_bed(version)
    api = OpenCartApiSimulator(bed.shop.url, version=version, prefix=bed.shop.prefix)
    api.start()
    try:
        bed.store.api_url = api.base_url + "/"
        bed.store.api_username = "Default"
        bed.store.secret = {**bed.store.secret, "api_key": DEFAULT_API_KEY}
        bed.store.save()
        add_order(bed.shop, 1040, telephone=PHONE)
        bed.sim.set_customer("+905321234567", call="confirm")
        bed.run()
        assert bed.order_status(1040) == 2 and bed.history(1040)[-1][0] == 2
        calls = list(Exchange.objects.filter(service="opencart").values_list("url", flat=True))
        assert any("history" in u.lower() for u in calls), calls
        assert all(DEFAULT_API_KEY not in e.request_body for e in Exchange.objects.filter(service="opencart"))
    finally:
        api.stop()


def test_one_shared_poll_feeds_cod_confirmation_and_the_phone_index(cod_bed):
    """With order lookup enabled too, COD confirmation still sees every order (one watermark, one poller)."""
    from ocbridge.core.models import Integration
    from ocbridge.opencart.models import PhoneIndex

    bed = cod_bed("3.0")
    Integration.objects.create(store=bed.store, kind="order_lookup", connection=bed.connection, settings={})
    for oid in (1050, 1051, 1052):
        add_order(bed.shop, oid, telephone=PHONE)
    bed.sim.set_customer("+905321234567", call="confirm")
    bed.run()
    assert Confirmation.objects.filter(order_id__in=(1050, 1051, 1052)).count() == 3
    assert set(PhoneIndex.objects.filter(e164="+905321234567").values_list("order_id", flat=True)) >= {1050, 1051, 1052}
    from ocbridge.opencart.models import FeedCursor

    assert sorted(FeedCursor.objects.values_list("integration__kind", "last_order_id")) == [
        ("cod_confirm", 1052), ("order_lookup", 1052)]  # one read of the shop, each feature's own position


def test_every_exchange_about_the_order_carries_it_so_the_log_filter_finds_them(cod_bed, client):
    from django.contrib.auth.models import User
    from django.urls import reverse

    from ocbridge.core.models import Exchange

    bed = cod_bed("3.0")
    add_order(bed.shop, 1201, telephone=PHONE)
    bed.sim.set_customer("+905321234567", call="confirm")
    bed.run()
    assert Confirmation.objects.get(order_id=1201).state == "confirmed"
    mine = Exchange.objects.filter(order_id=1201)
    assert mine.filter(direction="out", service="sandbox").exists()  # the call
    assert mine.filter(direction="in", service="sandbox").exists()  # the customer's answer (webhook)
    assert not Exchange.objects.filter(service="sandbox", order_id__isnull=True,
                                       purpose__startswith="cod_confirm").exists()
    client.force_login(User.objects.create_user("o", is_staff=True, is_superuser=True))
    html = client.get(reverse("dashboard:exchanges"), {"order": 1201}).content.decode()
    for ex in mine:
        assert reverse("dashboard:exchange", args=[ex.pk]) in html


def _result_job(bed, attempt, key: str, **event):
    from ocbridge.core.jobs import run_until_idle

    ev = {"event_id": key, "provider_id": attempt.provider_id, "outcome": "no_answer", "digits": [], "raw_status": "",
          "reference": "", **event}
    Job.objects.enqueue("cod_confirm.apply_call_result", key=f"test:{key}", integration=bed.integration,
                        payload={"service": attempt.service, "event": ev})
    run_until_idle()


def test_an_end_of_call_callback_after_the_key_press_changes_nothing(cod_bed):
    """Twilio posts the key press (Gather action), then the end of the call: the second must not undo the first."""
    bed = cod_bed("3.0")
    add_order(bed.shop, 1101, telephone=PHONE)
    bed.sim.set_customer("+905321234567", call="confirm")
    bed.run()
    attempt = Attempt.objects.get(confirmation__order_id=1101)
    assert attempt.state == "answered"
    _result_job(bed, attempt, "completed-after-gather", raw_status="completed")
    attempt.refresh_from_db()
    c = Confirmation.objects.get(order_id=1101)
    assert attempt.state == "answered" and c.state == "confirmed" and c.attempts.count() == 1
    assert not Job.objects.filter(key__endswith=":attempt:2").exists()


def test_a_result_matched_only_by_our_echoed_reference_is_applied(cod_bed):
    """The send's answer was lost (no provider id stored): the result names our reference and still decides."""
    from ocbridge.core.models import SideEffect

    bed = cod_bed("3.0")
    add_order(bed.shop, 1102, telephone=PHONE)
    bed.sim.set_customer("+905321234567", call="no_answer", answer_delay=10_000)  # nothing comes back by itself
    bed.run(rounds=2)
    attempt = Attempt.objects.get(confirmation__order_id=1102)
    effect = SideEffect.objects.get(key=attempt.key)
    SideEffect.objects.filter(pk=effect.pk).update(state="unknown", provider_id="")  # as after a lost answer
    Attempt.objects.filter(pk=attempt.pk).update(state="unknown", provider_id="")
    attempt.refresh_from_db()
    _result_job(bed, attempt, "late-press", provider_id="CALL-LATE", outcome="confirm", digits=["1"],
                reference=str(effect.correlation))
    effect.refresh_from_db()
    assert Confirmation.objects.get(order_id=1102).state == "confirmed"
    assert (effect.state, effect.provider_id) == ("sent", "CALL-LATE")


def test_an_sms_never_delivered_on_the_last_step_ends_undelivered_with_no_unanswered_risk_mark(cod_bed):
    """The last step's SMS is reported undelivered: the case goes to a person saying so, and the phone gets no
    "unanswered" risk mark (the same rule as a WhatsApp template Meta reports failed; before: "no answer after 1
    attempt", and an "unanswered" mark though the customer never received anything)."""
    from ocbridge.integrations.cod_confirm import risk

    bed = cod_bed("3.0", channels=["sms"], delays=[0])
    add_order(bed.shop, 1090, telephone=PHONE)
    bed.sim.set_customer("+905321234567", sms_delivery="undelivered", sms_reply=None)
    bed.run()
    c = Confirmation.objects.get(order_id=1090)
    assert (c.state, c.needs_person_reason, c.attempts_made) == ("needs_person", "undelivered", 1)
    assert c.transitions.filter(reason__startswith="SMS not delivered").exists()
    assert c.transitions.get(to_state="needs_person").reason == "attempt 1: sandbox reported it undelivered; no step left"
    assert risk.lookup(bed.store, "+905321234567").counts["unanswered"] == 0
    bed.assert_confirmation_reads(c, {"en": "attempt 1: sandbox reported it undelivered; no step left",
                                      "tr": "1. deneme: sandbox iletilemediğini bildirdi; başka adım kalmadı",
                                      "ru": "попытка 1: sandbox сообщил, что сообщение не доставлено; шагов больше нет"})


def test_an_undelivered_sms_then_a_step_skipped_for_the_region_ends_undelivered_with_no_unanswered_risk_mark(cod_bed):
    """Step 1's SMS is reported undelivered; step 2, a call, is skipped (calls go to Azerbaijani numbers only): no
    attempt reached the customer, so the case ends as for an undelivered last step — to a person saying so, no
    "unanswered" risk mark (before: "no answer after 1 attempt" and the mark, as the skip did not know)."""
    from ocbridge.integrations.cod_confirm import risk

    bed = cod_bed("3.0", channels=["sms", "call"], delays=[0, 0], call_countries=["AZ"])
    add_order(bed.shop, 1091, telephone=PHONE)
    bed.sim.set_customer("+905321234567", sms_delivery="undelivered", sms_reply=None, call="confirm")
    bed.run()
    c = Confirmation.objects.get(order_id=1091)
    assert [(a.channel, a.state) for a in c.attempts.all()] == [("sms", "undelivered")] and bed.sim.calls() == []
    assert c.transitions.filter(reason="step 2 (call) skipped: calls are not made to numbers in TR").exists()
    assert (c.state, c.needs_person_reason, c.attempts_made) == ("needs_person", "undelivered", 1)
    assert c.transitions.get(to_state="needs_person").reason == "attempt 1: sandbox reported it undelivered; no step left"
    assert risk.lookup(bed.store, "+905321234567").counts["unanswered"] == 0


def test_a_call_that_rang_unanswered_keeps_its_risk_mark_though_the_last_sms_was_undelivered(cod_bed):
    """The customer was reached (step 1's call rang, unanswered); step 2's SMS never arrived. An attempt reached them,
    so the case ends "no answer, attempts used up" with one "unanswered" risk mark: the rule is whether any attempt
    reached the customer, not how the last one ended."""
    from ocbridge.integrations.cod_confirm import risk

    bed = cod_bed("3.0", channels=["call", "sms"], delays=[0, 30])
    add_order(bed.shop, 1092, telephone=PHONE)
    bed.sim.set_customer("+905321234567", call="no_answer", sms_delivery="undelivered", sms_reply=None)
    bed.run()
    clock.travel(31 * 60)
    bed.run()
    c = Confirmation.objects.get(order_id=1092)
    assert [(a.channel, a.state) for a in c.attempts.all()] == [("call", "no_answer"), ("sms", "undelivered")]
    assert (c.state, c.needs_person_reason) == ("needs_person", "attempts used up")
    assert risk.lookup(bed.store, "+905321234567").counts["unanswered"] == 1


def test_an_early_delivery_report_waits_for_its_send(cod_bed):
    """A "not delivered" report that overtakes our record of the send is retried, not dropped."""
    bed = cod_bed("3.0")
    job = Job.objects.enqueue("cod_confirm.apply_delivery_report", key="test:early-dlr", integration=bed.integration,
                              payload={"service": "sandbox", "event": {"event_id": "e1", "provider_id": "SMS-NOT-YET",
                                                                       "delivered": False, "status": "undelivered"}})
    from ocbridge.core.jobs import run_until_idle

    run_until_idle()
    job.refresh_from_db()
    assert job.state == "queued" and "not known yet" in job.last_error


def test_call_again_next_to_a_due_attempt_is_one_call(cod_bed):
    """A person presses "call again" while the robot's attempt is due: one attempt, one call."""
    from ocbridge.core.jobs import run_until_idle
    from ocbridge.integrations.cod_confirm import actions
    from ocbridge.core.polls import run_all as run_polls

    bed = cod_bed("3.0")
    add_order(bed.shop, 1103, telephone=PHONE)
    bed.sim.set_customer("+905321234567", call="confirm")
    run_polls()  # the poll: attempt 1 is queued and due
    c = Confirmation.objects.get(order_id=1103)
    actions.manual_retry(c, channel="call", user="ayse", reason="customer asked to be called")
    bed.run()
    assert len(bed.sim.calls()) == 1
    assert Confirmation.objects.get(order_id=1103).state == "confirmed" and c.attempts.count() == 1


def test_a_lost_answer_the_provider_cannot_be_asked_about_reads_in_each_readers_language(cod_bed):
    """A call whose request is lost (the Sandbox simulator resets the connection), which the retry must ask about
    first, and a firewall in front refusing that question (the simulator's "403" fault): the attempt's line in the confirmation's timeline
    says "asking sandbox failed: …" in the reader's language, the refusal inside it too (services.base
    replay_or_recover). A Turkish worker."""
    from django.utils import translation

    from ocbridge.integrations.cod_confirm.models import Transition

    bed = cod_bed("3.0", channels=["call"], delays=[0])
    bed.sim.fail_next("reset", path="/v1/calls")  # the call's request: its fate unknown; asked, it is not there
    add_order(bed.shop, 1020, telephone=PHONE)
    with translation.override("tr"):
        bed.run()
        bed.sim.fail_next("403", path="/v1/calls", count=10)  # the retry's question about it is refused
        clock.travel(120)
        bed.run()
    assert bed.sim.calls() == []
    c = Confirmation.objects.get(order_id=1020)
    reasons = list(Transition.objects.filter(confirmation=c).values_list("reason", flat=True))
    assert any("asking sandbox failed: answered HTTP 403 without a body" in r for r in reasons), reasons  # English
    said = {"en": "asking sandbox failed: answered HTTP 403 without a body",
            "tr": "sandbox sorgulanamadı: HTTP 403 ile yanıt verdi, yanıt gövdesi boş",
            "ru": "не удалось опросить sandbox: ответил HTTP 403 с пустым телом ответа"}
    bed.assert_confirmation_reads(c, said)


def test_a_case_whose_every_step_was_skipped_says_nothing_was_sent(cod_bed):
    """The only step, a call, is skipped (calls go to Azerbaijani numbers only): nothing was ever sent, so the case
    goes to a person saying no step could be sent — not "no answer after 0 attempts" — and the phone gets no
    "unanswered" risk mark."""
    from ocbridge.integrations.cod_confirm import risk

    bed = cod_bed("3.0", channels=["call"], delays=[0], call_countries=["AZ"])
    add_order(bed.shop, 1093, telephone=PHONE)
    bed.sim.set_customer("+905321234567", call="confirm")
    bed.run()
    c = Confirmation.objects.get(order_id=1093)
    assert c.attempts.count() == 0 and bed.sim.calls() == []
    assert (c.state, c.needs_person_reason, c.attempts_made) == ("needs_person", "could not be sent", 0)
    assert c.transitions.get(to_state="needs_person").reason == "no step could be sent to the customer"
    assert risk.lookup(bed.store, "+905321234567").counts["unanswered"] == 0
    bed.assert_confirmation_reads(c, {"en": "no step could be sent to the customer",
                                      "tr": "müşteriye hiçbir adım gönderilemedi",
                                      "ru": "ни один шаг не удалось отправить покупателю"})


def test_call_again_after_a_call_withdrawn_on_switch_on_makes_the_call(cod_bed):
    """A call paused while switched off is withdrawn on switch-on (past its calling day: a person takes the case); the
    person's "call again" then makes one call, which decides the case. Before, it reused the withdrawn attempt's
    number and key and sent nothing."""
    from ocbridge.core import outbox
    from ocbridge.core.jobs import run_until_idle
    from ocbridge.core.models import Integration
    from ocbridge.core.polls import run_all as run_polls
    from ocbridge.integrations.cod_confirm.actions import manual_retry

    bed = cod_bed("3.0")
    add_order(bed.shop, 1019, telephone=PHONE)
    bed.sim.set_customer("+905321234567", call="confirm")
    run_polls()
    Integration.objects.filter(pk=bed.integration.pk).update(enabled=False)
    run_until_idle()
    clock.travel(2 * 86400)
    Integration.objects.filter(pk=bed.integration.pk).update(enabled=True)
    assert outbox.resume_switched_on() == (0, 1)
    bed.run()
    c = Confirmation.objects.get(order_id=1019)
    assert c.state == "needs_person" and bed.sim.calls() == []
    manual_retry(c, channel="call", user="owner", reason="customer asked us to call")
    bed.run()
    c.refresh_from_db()
    assert len(bed.sim.calls()) == 1 and c.state == "confirmed"
    assert list(c.attempts.order_by("number").values_list("state", flat=True)) == ["withdrawn", "answered"]
