"""Texts that carry a count read in each language's plural form (ru: 1 попытка / 2 попытки / 5 попыток; tr: one
form): a job that gave up after N attempts (said, core.sentences — also on rows stored before, migration core 0035),
Despatch Cloud's test, and what pages and messages say with a count (ngettext): COD reasons, the login throttle, the
alert's footer, the test-send limit, the recovery codes left and the personal data erased."""

from __future__ import annotations

import html
import re
from importlib import import_module

import pytest
from django.contrib.auth.models import User
from django.db import OperationalError
from django.urls import reverse
from django.utils import translation

from testkit import LANGS, assert_job_reads, assert_reads, reader, said_in
from ocbridge.core import clock
from ocbridge.core.choices import JobState
from ocbridge.core.errors import RetryableError
from ocbridge.core.jobs import JobKind, hub_unavailable, register_job_kind, run_job
from ocbridge.core.models import Job, Store

pytestmark = pytest.mark.django_db


@register_job_kind
class GivesUp(JobKind):
    """Its service answers 503 on every run (the reason said, as a service's is)."""

    kind = "test.gives_up"

    def run(self, job):
        raise RetryableError("sms", 503, hub_unavailable(OperationalError("database is locked")))


GAVE_UP = {
    1: {"en": "gave up after 1 attempt: ", "tr": "1 denemeden sonra bırakıldı: ", "ru": "прекращено после 1 попытки: "},
    2: {"en": "gave up after 2 attempts: ", "tr": "2 denemeden sonra bırakıldı: ", "ru": "прекращено после 2 попыток: "},
    5: {"en": "gave up after 5 attempts: ", "tr": "5 denemeden sonra bırakıldı: ", "ru": "прекращено после 5 попыток: "},
}


@pytest.mark.parametrize("attempts", [1, 2, 5])
def test_a_job_that_gave_up_says_its_attempts_in_each_languages_plural_form(attempts):
    """Its last attempt failed too: the row's English text and both pages give the count in the reader's form, the
    service's reason after it (before: "gave up after 1 attempts", ru "прекращено после попыток (2)")."""
    job = Job.objects.enqueue(GivesUp, key=f"gives-up-{attempts}", max_attempts=attempts)
    Job.objects.filter(pk=job.pk).update(attempts=attempts - 1)
    with translation.override("tr"):  # the worker's language must not matter
        run_job(job.pk)
    assert Job.objects.get(pk=job.pk).state == JobState.FAILED
    assert_job_reads(job, {lang: GAVE_UP[attempts][lang] + reason for lang, reason in {
        "en": "hub database unavailable", "tr": "merkezin veritabanına ulaşılamıyor",
        "ru": "база данных хаба недоступна"}.items()}, stored=GAVE_UP[attempts]["en"] + "sms: 503")


def test_a_job_that_gave_up_on_a_locked_hub_says_its_attempt_in_each_languages_form():
    """The hub's own database locked on the only attempt (core.jobs' other "gave up" path)."""

    @register_job_kind
    class LockedOnce(JobKind):
        kind = "test.locked_once"
        max_attempts = 1

        def run(self, job):
            raise OperationalError("database is locked")

    job = Job.objects.enqueue(LockedOnce, key="locked-once")
    run_job(job.pk)
    assert_job_reads(job, {lang: GAVE_UP[1][lang] for lang in LANGS})


def test_counts_stored_before_their_plural_read_in_each_readers_language():
    """Migration core 0035 on rows the old code (and migration 0032) wrote: "gave up after {attempts} attempts" around
    a reason, Ozon's "{n} cards wait …"; another text is left as it was."""
    from django.apps import apps

    old_wait = import_module("ocbridge.core.migrations.0032_job_waits_said").said
    gave_up = Job.objects.create(kind="test.gives_up", key="old-1", state="failed", last_error_said={
        "text": "gave up after {attempts} attempts: {error}",
        "values": {"attempts": 2, "error": {"text": "hub database unavailable: {detail}",
                                            "values": {"detail": "database is locked"}}}},
        last_error="gave up after 2 attempts: hub database unavailable: database is locked")
    cards = {n: Job.objects.create(kind="ozon.sync_products", key=f"old-cards-{n}", state="queued",
                                   last_error=f"{n} cards wait for Ozon's daily quota to reset") for n in (1, 2, 5)}
    other = Job.objects.create(kind="test.gives_up", key="old-2", state="failed", last_error="x",
                               last_error_said={"text": "attempt {n} may still be answered", "values": {"n": 2}})
    old_wait(apps, None)  # 0032 says the English-only waits with the old msgid
    import_module("ocbridge.core.migrations.0035_job_counts_plural").plural(apps, None)
    assert_job_reads(gave_up, {"en": "gave up after 2 attempts: hub database unavailable: database is locked",
                               "tr": "2 denemeden sonra bırakıldı: merkezin veritabanına ulaşılamıyor",
                               "ru": "прекращено после 2 попыток: база данных хаба недоступна"})
    said = {1: {"en": "1 card waits for Ozon's daily quota to reset",
                "tr": "1 kart Ozon'un günlük kotasının sıfırlanmasını bekliyor",
                "ru": "1 карточка ждёт сброса дневной квоты Ozon"},
            2: {"en": "2 cards wait for Ozon's daily quota to reset",
                "tr": "2 kart Ozon'un günlük kotasının sıfırlanmasını bekliyor",
                "ru": "2 карточки ждут сброса дневной квоты Ozon"},
            5: {"en": "5 cards wait for Ozon's daily quota to reset",
                "tr": "5 kart Ozon'un günlük kotasının sıfırlanmasını bekliyor",
                "ru": "5 карточек ждут сброса дневной квоты Ozon"}}
    for n, job in cards.items():  # the row's English text stays as the old code wrote it ("1 cards …")
        assert_job_reads(job, said[n], stored=f"{n} cards wait for Ozon's daily quota to reset")
    assert Job.objects.get(pk=other.pk).last_error_said == {"text": "attempt {n} may still be answered",
                                                            "values": {"n": 2}}


COD_REASONS = {
    "no answer after {n} attempts": {
        1: {"en": "no answer after 1 attempt", "tr": "1 denemeden sonra yanıt yok", "ru": "нет ответа после 1 попытки"},
        2: {"en": "no answer after 2 attempts", "tr": "2 denemeden sonra yanıt yok",
            "ru": "нет ответа после 2 попыток"},
        5: {"en": "no answer after 5 attempts", "tr": "5 denemeden sonra yanıt yok",
            "ru": "нет ответа после 5 попыток"}},
    "not confirmed automatically: customer has {n} completed orders": {
        1: {"en": "the customer has 1 completed order", "tr": "müşterinin 1 tamamlanmış siparişi var",
            "ru": "у покупателя 1 выполненный заказ"},
        2: {"en": "the customer has 2 completed orders", "tr": "müşterinin 2 tamamlanmış siparişi var",
            "ru": "у покупателя 2 выполненных заказа"},
        5: {"en": "the customer has 5 completed orders", "tr": "müşterinin 5 tamamlanmış siparişi var",
            "ru": "у покупателя 5 выполненных заказов"}},
}


@pytest.mark.parametrize("stored", list(COD_REASONS))
@pytest.mark.parametrize("n", [1, 2, 5])
def test_a_cod_reason_with_a_count_reads_in_each_languages_plural_form(stored, n):
    """The reason is stored in English ("no answer after 1 attempts", as cod_confirm writes it) and read on the order's
    timeline in the reader's language."""
    from ocbridge.integrations.cod_confirm.reasons import translate_reason

    assert_reads(COD_REASONS[stored][n], lambda lang: said_in(lang, lambda: translate_reason(stored.format(n=n))))


@pytest.mark.parametrize("minutes, said", [
    (1, {"en": "try again in 1 minute.", "tr": "1 dakika sonra yeniden deneyin", "ru": "попробуйте через 1 минуту."}),
    (2, {"en": "try again in 2 minutes.", "tr": "2 dakika sonra yeniden deneyin", "ru": "попробуйте через 2 минуты."}),
    (5, {"en": "try again in 5 minutes.", "tr": "5 dakika sonra yeniden deneyin", "ru": "попробуйте через 5 минут."}),
])
def test_the_login_throttle_says_its_minutes_in_each_languages_plural_form(minutes, said, settings):
    from ocbridge.dashboard.login import throttled_error

    settings.LOGIN_FAIL_WINDOW = minutes * 60
    assert_reads(said, lambda lang: said_in(lang, lambda: throttled_error().messages[0]))


@pytest.mark.parametrize("minutes, said", [  # a route's period is 5 minutes at least
    (5, {"en": "every 5 minutes;", "tr": "En fazla 5 dakikada bir mesaj", "ru": "в 5 минут;"}),
    (21, {"en": "every 21 minutes;", "tr": "En fazla 21 dakikada bir mesaj", "ru": "в 21 минуту;"}),
    (22, {"en": "every 22 minutes;", "tr": "En fazla 22 dakikada bir mesaj", "ru": "в 22 минуты;"}),
])
def test_an_alerts_footer_says_its_period_in_each_languages_plural_form(minutes, said):
    from ocbridge.core.alerts import compose
    from ocbridge.core.models import AlertCondition, AlertRoute

    store = Store.objects.create(name="Shop", language="tr")
    user = User.objects.create_user("owner", password="pw")
    now = clock.now()
    news = [AlertCondition(store=store, key="core.x", source="connections", text="x", opened_at=now,
                           last_opened_at=now)]
    assert_reads(said, lambda lang: compose(AlertRoute(user=user, store=store, target="o@shop.example",
                                                      digest_minutes=minutes, language=lang), news, now)[1])


@pytest.mark.parametrize("total, said", [
    (1, {"en": "logged in; 1 order in the account.", "tr": "hesapta 1 sipariş var.", "ru": "в аккаунте 1 заказ."}),
    (2, {"en": "logged in; 2 orders in the account.", "tr": "hesapta 2 sipariş var.", "ru": "в аккаунте 2 заказа."}),
    (5, {"en": "logged in; 5 orders in the account.", "tr": "hesapta 5 sipariş var.", "ru": "в аккаунте 5 заказов."}),
])
def test_despatch_clouds_test_says_its_orders_in_each_languages_plural_form(total, said, monkeypatch):
    from types import SimpleNamespace

    from ocbridge.core.models import Connection
    from ocbridge.integrations.despatch import jobs

    class Client:
        def __init__(self, connection):
            pass

        def login(self):
            pass

        def search_orders(self, **kw):
            return SimpleNamespace(total=total)

    monkeypatch.setattr(jobs, "DespatchClient", Client)
    conn = Connection(service="despatch")
    assert_reads(said, lambda lang: said_in(lang, lambda: jobs.check_connection(conn)["message"]))


@pytest.mark.parametrize("limit, said", [
    (1, {"en": "At most 1 test call or SMS an hour", "tr": "saatte en fazla 1 test araması veya SMS",
         "ru": "Не больше 1 тестового звонка или SMS в час"}),
    (2, {"en": "At most 2 test calls and SMS an hour", "tr": "saatte en fazla 2 test araması ve SMS",
         "ru": "Не больше 2 тестовых звонков и SMS в час"}),
    (5, {"en": "At most 5 test calls and SMS an hour", "tr": "saatte en fazla 5 test araması ve SMS",
         "ru": "Не больше 5 тестовых звонков и SMS в час"}),
])
def test_the_test_send_limit_says_its_count_in_each_languages_plural_form(limit, said, monkeypatch):
    from ocbridge.core import limits
    from ocbridge.core.models import AuditEntry, Integration
    from ocbridge.integrations.cod_confirm import actions

    store = Store.objects.create(name="Shop")
    integration = Integration.objects.create(store=store, kind="cod_confirm")
    monkeypatch.setattr(limits, "test_sends_per_hour", lambda store: limit)
    for _ in range(limit):
        AuditEntry.objects.create(user="desk", store=store, action="cod_confirm.test_call")
    def refusal(lang: str) -> str:
        with translation.override(lang), pytest.raises(ValueError) as refused:
            actions._within_test_limit(integration, "desk")
        return str(refused.value)

    assert_reads(said, refusal)


def _message(lang: str, url: str, data: dict) -> str:
    """The message shown after a POST to `url` by a reader in `lang`."""
    page = html.unescape(reader(lang).post(url, data, follow=True).content.decode())
    return re.search(r'<ul class="messages".*?</ul>', page, re.S).group(0)


@pytest.mark.parametrize("left, said", [
    (1, {"en": "recovery code; 1 is left.", "tr": "kurtarma koduyla giriş yaptınız; 1 kod kaldı",
         "ru": "остался 1 код."}),
    (2, {"en": "recovery code; 2 are left.", "tr": "kurtarma koduyla giriş yaptınız; 2 kod kaldı",
         "ru": "осталось 2 кода."}),
    (5, {"en": "recovery code; 5 are left.", "tr": "kurtarma koduyla giriş yaptınız; 5 kod kaldı",
         "ru": "осталось 5 кодов."}),
])
def test_the_recovery_codes_left_read_in_each_languages_plural_form(left, said, monkeypatch):
    from ocbridge.core import two_factor

    monkeypatch.setattr(two_factor, "active", lambda user: object())
    monkeypatch.setattr(two_factor, "verified", lambda request: False)
    monkeypatch.setattr(two_factor, "check_code", lambda tf, code: False)
    monkeypatch.setattr(two_factor, "use_recovery_code", lambda tf, code: left)
    monkeypatch.setattr(two_factor, "mark_verified", lambda request, tf: None)
    assert_reads(said, lambda lang: _message(lang, reverse("dashboard:two-factor-verify"), {"code": "abcd-efgh"}))


@pytest.mark.parametrize("erased, said", [
    (1, {"en": "Erased: 1 record held this number.", "tr": "Silindi: 1 kayıt", "ru": "номер был в 1 записи."}),
    (2, {"en": "Erased: 2 records held this number.", "tr": "Silindi: 2 kayıt", "ru": "номер был в 2 записях."}),
    (5, {"en": "Erased: 5 records held this number.", "tr": "Silindi: 5 kayıt", "ru": "номер был в 5 записях."}),
])
def test_the_personal_data_erased_reads_in_each_languages_plural_form(erased, said, monkeypatch):
    from ocbridge.core import personal_data

    monkeypatch.setattr(personal_data, "erase", lambda e164, stores: {"cod_confirm.Confirmation": erased})
    store = Store.objects.create(name="Shop", country="TR")
    assert_reads(said, lambda lang: _message(lang, reverse("dashboard:personal-data", args=[store.pk]),
                                             {"phone": "+905321234567", "action": "erase", "confirm": "on"}))


OLD_TWIML = {"text": "the call's TwiML is {length} characters; Twilio refuses more than {limit}: shorten the text",
             "values": {"length": 4681, "limit": 4000}}
NEW_TWIML = {"en": "the call's TwiML is 4681 characters; Twilio refuses more than 4000: shorten the text",
             "tr": "aramanın TwiML'i 4681 karakter; Twilio 4000 karakterden uzununu reddeder: metni kısaltın",
             "ru": "TwiML звонка — 4681 символ; Twilio отклоняет более 4000: сократите текст"}


def test_service_counts_stored_before_their_plural_read_in_each_readers_language():
    """Migration core 0036 on rows the old code wrote: Twilio's TwiML length (an outbox row's refusal), OneBox's
    moving list (a failing poll's) and its short answer to a set (a job's, inside "gave up after …")."""
    from django.apps import apps

    from ocbridge.core.models import PollHealth, SideEffect
    from ocbridge.core.sentences import shown

    effect = SideEffect.objects.create(key="twiml-1", kind="call", service="twilio", state="failed",
                                       error="twilio: 32018", error_said=OLD_TWIML)
    moving = PollHealth.objects.create(poll="onebox.changes", key="c1", failures=1, updated=clock.now(),
                                       last_error="x", last_error_said={
                                           "text": "OneBox's {entity} list kept changing while it was read ({passes} "
                                                   "times); reading it again later",
                                           "values": {"entity": "brand", "passes": 3}})
    short = Job.objects.create(kind="onebox.push", key="short-1", state="failed", last_error="x", last_error_said={
        "text": "gave up after {count} attempt: {error}", "plural": "gave up after {count} attempts: {error}",
        "values": {"count": 2, "error": {"text": "{call} answered {ids} ids for {records} records",
                                         "values": {"call": "brand/set", "ids": 1, "records": 21}}}})
    import_module("ocbridge.core.migrations.0036_service_counts_plural").plural(apps, None)
    for row, field, said in (
            (effect, "error_said", NEW_TWIML),
            (moving, "last_error_said", {
                "en": "OneBox's brand list kept changing while it was read (3 times); reading it again later",
                "tr": "OneBox'un brand listesi okunurken değişmeye devam etti (3 kez); daha sonra yeniden okunacak",
                "ru": "список brand в OneBox менялся во время чтения (3 раза); он будет прочитан позже"}),
            (short, "last_error_said", {
                "en": "gave up after 2 attempts: brand/set: 21 records sent, 1 id answered",
                "tr": "2 denemeden sonra bırakıldı: brand/set: 21 kayıt gönderildi, yanıtta 1 kimlik",
                "ru": "прекращено после 2 попыток: brand/set: 21 запись отправлена, в ответе 1 идентификатор"})):
        row.refresh_from_db()
        assert_reads(said, lambda lang: said_in(lang, lambda: shown(getattr(row, field), "")), alone=True)


def test_a_confirmations_refusal_stored_before_its_plural_reads_in_each_readers_language():
    """Migration cod_confirm 0019: the TwiML refusal (and core 0033's lost answers) copied from the outbox row to the
    case's last error and, inside "{service} refused: {detail}", to its history."""
    from django.apps import apps

    from ocbridge.core.models import Integration
    from ocbridge.integrations.cod_confirm.models import Confirmation, Transition

    store = Store.objects.create(name="Shop")
    integration = Integration.objects.create(store=store, kind="cod_confirm")
    c = Confirmation.objects.create(store=store, integration=integration, order_id=1, order_label="1",
                                    status_at_start=1, state="failed", last_error="x", last_error_said=OLD_TWIML)
    lost = {"text": "{count} calls to this number since the lost answer", "values": {"count": 1}}
    t = Transition.objects.create(confirmation=c, from_state="calling", to_state="failed", reason="x", reason_said={
        "text": "{service} refused: {detail}",
        "values": {"service": "twilio", "detail": {"text": "{first}; {then}", "values": {"first": OLD_TWIML,
                                                                                        "then": lost}}}})
    import_module("ocbridge.integrations.cod_confirm.migrations.0019_counts_plural").plural(apps, None)
    c.refresh_from_db()
    t.refresh_from_db()
    assert_reads(NEW_TWIML, lambda lang: said_in(lang, c.error_text), alone=True)
    assert_reads({"en": "1 call to this number since the lost answer",
                  "tr": "bu numaraya 1 arama yapıldı", "ru": "1 звонок на этот номер после потерянного ответа"},
                 lambda lang: said_in(lang, t.said_reason))
    assert_reads(NEW_TWIML, lambda lang: said_in(lang, t.said_reason))
