"""The services' own texts read in the reader's language where the owner sees them: a connection's "Test" (the message
after the click, and the store page's Connections row), a test call's or SMS's job page, and the WhatsApp templates
page. Each through the real button or form and the real job, run in a Turkish worker, against the provider's loopback
simulator (faults queued there: a firewall's empty 403, a login answered without its token) or with the setting
that cannot work (a SHA type APS does not have, a currency LatitudePay does not take, a WhatsApp connection without
its ids, a store language the robot cannot speak, a call text longer than Twilio takes)."""

from __future__ import annotations

import html
import re

import pytest
from django.urls import reverse
from django.utils import translation
from testkit import (LANGS, assert_page_reads, assert_reads_as, connection_test_shown, reader,
                     simulated_connection)

from ocbridge.core.jobs import run_job
from ocbridge.core.models import Connection, Integration, Job, Store

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _simulator_hosts(settings):
    settings.SIMULATOR_HOSTS = ["127.0.0.1"]


# --- the "Test" button ------------------------------------------------------------------------------------------

TOKENLESS = {
    "onebox": {"en": "OneBox: OneBox answered the login without a token",
               "tr": "OneBox: OneBox girişe oturum anahtarı (token) olmadan yanıt verdi",
               "ru": "OneBox: OneBox ответил на вход без токена"},
    "despatch": {"en": "Despatch Cloud: Despatch Cloud answered the login without a token",
                 "tr": "Despatch Cloud: Despatch Cloud girişe oturum anahtarı (token) olmadan yanıt verdi",
                 "ru": "Despatch Cloud: Despatch Cloud ответил на вход без токена"},
}


@pytest.mark.parametrize("service", list(TOKENLESS))
def test_a_login_answered_without_a_token_reads_in_each_readers_language(service):
    """OneBox's token/get or Despatch Cloud's auth/login answering success with nothing in it (the simulator's
    "empty" fault: the provider's own envelope, no token)."""
    path = "/api/v2/token/get" if service == "onebox" else "/public-api/auth/login"
    with simulated_connection(service, Store.objects.create(name="Shop")) as (sim, conn):
        for lang in LANGS:
            sim.fail_next("empty", count=5, path=path)
            message, _ = connection_test_shown(conn, lang)
            assert_reads_as(TOKENLESS[service], lang, message)
        assert any(r.fault == "empty" for r in sim.requests())


def test_a_verimor_test_a_firewall_refuses_reads_in_each_readers_language():
    """Something in front of Verimor answering 403 with no body: "HTTP 403" said, after the click and on the row."""
    said = {"en": "Verimor: answered HTTP 403 without a body", "tr": "Verimor: HTTP 403 ile yanıt verdi, yanıt gövdesi boş",
            "ru": "Verimor: ответил HTTP 403 с пустым телом ответа"}
    with simulated_connection("verimor", Store.objects.create(name="Shop")) as (sim, conn):
        for lang in LANGS:
            sim.fail_next("403", count=5)
            message, row = connection_test_shown(conn, lang)
            assert_reads_as(said, lang, message)
            assert_reads_as({k: v.removeprefix("Verimor: ") for k, v in said.items()}, lang, row)


@pytest.mark.parametrize("case", ["sha", "currency"])
def test_a_gateway_setting_that_cannot_work_reads_in_each_readers_language(case):
    """An APS connection with a SHA type APS does not have; a LatitudePay connection (APS's own hosts, no simulator
    needed: nothing is sent) in a currency LatitudePay does not take. The store page's "Test"."""
    from paykit import CREDS

    said = {
        "sha": {"en": "unknown APS SHA type 'sha999' (one of ",
                "tr": "bilinmeyen APS SHA türü 'sha999' (şunlardan biri olmalı: ",
                "ru": "неизвестный тип SHA для APS: 'sha999' (допустимы: "},
        "currency": {"en": "LatitudePay takes AUD, Genoapay NZD only",
                     "tr": "LatitudePay yalnızca AUD, Genoapay yalnızca NZD kabul eder",
                     "ru": "LatitudePay принимает только AUD, Genoapay — только NZD"}}[case]
    store = Store.objects.create(name="Shop")
    if case == "sha":
        conn = Connection.objects.create(store=store, service="aps", base_url="https://127.0.0.1:9/", secret=dict(CREDS),
                                         options={"sha_type": "sha999"})
    else:
        conn = Connection.objects.create(store=store, service="latitudepay", secret={"api_key": "k", "api_secret": "s"},
                                         options={"currency": "USD"})
    Integration.objects.create(store=store, kind=conn.service, connection=conn, settings={})
    for lang in LANGS:
        message, _ = connection_test_shown(conn, lang)
        assert_reads_as(said, lang, message)


def test_whatsapp_without_its_ids_reads_in_each_readers_language():
    """A WhatsApp connection saved without its phone number id ("Test") or its Business Account id (the templates
    page's "Submit for review"): each says which id is missing. Nothing reaches the simulator."""
    no_phone = {"en": "the connection has no phone number id",
                "tr": "bağlantıda telefon numarası kimliği (phone number id) yok",
                "ru": "в подключении не указан идентификатор номера (phone number id)"}
    no_waba = {"en": "the connection has no WhatsApp Business Account id",
               "tr": "bağlantıda WhatsApp Business hesap kimliği (WABA id) yok",
               "ru": "в подключении не указан идентификатор WhatsApp Business Account"}
    with simulated_connection("whatsapp", Store.objects.create(name="Shop"), options={}) as (sim, conn):
        for lang in LANGS:
            message, _ = connection_test_shown(conn, lang)
            assert_reads_as(no_phone, lang, message)
            page = html.unescape(reader(lang).post(reverse("dashboard:whatsapp-templates", args=[conn.pk]),
                                                   {"action": "create"}, follow=True).content.decode())
            assert_reads_as(no_waba, lang, re.search(r'<ul class="messages".*?</ul>', page, re.S).group(0))
        assert not [r for r in sim.requests() if not r.path.startswith("/_sim")]


# --- a test call or SMS: the job's page ---------------------------------------------------------------------------


def _send_test(store: Store, conn: Connection, channel: str, settings: dict | None = None, phone: str = "+905321234567",
               form: bool = True) -> Job:
    """The "Send a test" form (or, for a number no form would take, the same job queued), run in a Turkish worker."""
    from ocbridge.integrations.cod_confirm.models import ChannelStep

    integration = Integration.objects.create(store=store, kind="cod_confirm", connection=conn, settings=settings or {})
    ChannelStep.objects.create(integration=integration, position=1, channel=channel, connection=conn)
    if form:
        resp = reader("en").post(reverse("dashboard:integration-test", args=[store.pk, "cod_confirm"]),
                                 {"test-phone": phone, "test-channel": channel})
        assert resp.status_code == 302, resp.content.decode()[:2000]
        job = Job.objects.filter(kind="cod_confirm.send_test").latest("pk")
    else:
        job = Job.objects.enqueue("cod_confirm.send_test", key=f"cod_confirm:{store.pk}:test:{channel}:1",
                                  integration=integration, store=store, payload={"phone": phone, "channel": channel})
    with translation.override("tr"):  # the worker's language must not matter
        run_job(job.pk)
    job.refresh_from_db()
    return job


def test_a_test_call_in_a_language_the_robot_cannot_speak_reads_in_each_readers_language():
    """Verimor's campaign robot speaks no Russian: a Russian store's test call is refused before anything is sent."""
    from ocbridge.simulators.verimor import VerimorSimulator

    said = {"en": "verimor text-to-speech cannot speak 'ru' (supported: tr, en, ar)",
            "tr": "verimor metin okuma (TTS) 'ru' dilini konuşamıyor (desteklenenler: tr, en, ar)",
            "ru": "синтез речи verimor не говорит на языке 'ru' (поддерживаются: tr, en, ar)"}
    with VerimorSimulator(api_key="K1", speed=200) as sim:
        store = Store.objects.create(name="Shop", country="TR", language="ru")
        conn = Connection.objects.create(store=store, service="verimor", base_url=sim.base_url, secret={"key": "K1"})
        job = _send_test(store, conn, "call")
        assert job.state == "failed" and said["en"] in job.last_error, job.last_error
        assert_page_reads(reverse("dashboard:job", args=[job.pk]), said, r'<p class="err">.*?</p>', alone=True)


TWIML_FORMS = {"en": "the call's TwiML is {n} characters; Twilio refuses more than 4000: shorten the text",
               "tr": "aramanın TwiML'i {n} karakter; Twilio 4000 karakterden uzununu reddeder: metni kısaltın",
               "ru": "TwiML звонка — {n} {chars}; Twilio отклоняет более 4000: сократите текст"}


def test_a_test_call_text_longer_than_twilio_takes_reads_in_each_readers_language():
    """A call text that makes the call's TwiML longer than Twilio's 4,000 characters (error 32018): the count in each
    reader's plural form — ru 4681 символ, 4682 символа, 4685 символов (before: "символов" for each)."""
    from ocbridge.integrations.cod_confirm.config import CodConfirmConfig

    def refused(text: str) -> tuple[Job, int]:
        store = Store.objects.create(name="Shop", country="TR", language="tr")
        with simulated_connection("twilio", store) as (sim, conn):
            job = _send_test(store, conn, "call", CodConfirmConfig(call_texts={"tr": text}).to_settings())
            assert not [r for r in sim.requests() if "/Calls" in r.path]
        assert job.state == "failed", job.last_error
        return job, job.last_error_said["values"]["count"]

    text, pad = "Siparişiniz hazırlanıyor. " * 180, 0
    n = refused(text)[1]
    for last, chars in ((1, "символ"), (2, "символа"), (5, "символов")):
        for _ in range(2):  # the TwiML grows with the text one to one, and by a digit when an id in its URLs gains one
            pad += (last - n) % 10
            job, n = refused(text + "a" * pad)
            if n % 10 == last:
                break
        assert n % 10 == last and n > 4000, n
        said = {lang: form.format(n=n, chars=chars) for lang, form in TWIML_FORMS.items()}
        assert said["en"] in job.last_error, job.last_error
        assert_page_reads(reverse("dashboard:job", args=[job.pk]), said, r'<p class="err">.*?</p>', alone=True)


def test_a_test_sms_to_a_number_that_is_not_e164_reads_in_each_readers_language():
    """A number no provider takes (not E.164) reaches the client's last check, which refuses it before sending."""
    said = {"en": "not an E.164 phone number: '0532'", "tr": "E.164 biçiminde bir telefon numarası değil: '0532'",
            "ru": "не номер телефона в формате E.164: '0532'"}
    store = Store.objects.create(name="Shop", country="TR", language="tr")
    with simulated_connection("sandbox", store) as (sim, conn):
        job = _send_test(store, conn, "sms", phone="0532", form=False)
        assert job.state == "failed" and said["en"] in job.last_error, job.last_error
        assert_page_reads(reverse("dashboard:job", args=[job.pk]), said, r'<p class="err">.*?</p>', alone=True)
        assert not sim.messages()


def test_a_request_to_a_host_the_service_may_not_reach_reads_in_each_readers_language(settings):
    """A connection whose base URL is no longer one its credentials may go to (here the loopback simulator once the
    administrator stops allowing it): the request is not sent, and the Test says "not sent to 127.0.0.1: …" in the
    reader's language (core.http), the reason inside too."""
    said = {"en": "not sent to 127.0.0.1: The base URL must be https on the standard port.",
            "tr": "127.0.0.1 adresine gönderilmedi: Temel adres standart portta https olmalı.",
            "ru": "не отправлено на 127.0.0.1: Базовый адрес должен быть https на стандартном порту."}
    with simulated_connection("verimor", Store.objects.create(name="Shop")) as (sim, conn):
        settings.SIMULATOR_HOSTS = []
        for lang in LANGS:
            message, row = connection_test_shown(conn, lang)
            assert_reads_as(said, lang, message)
            assert_reads_as(said, lang, row)
        assert not sim.requests()
