"""A telephony connection's "Test" button, when the provider answers "too many requests" or a server fault, says so
in the reader's language: the message after the click and the store page's Connections table (Connection.last_error_said).
The real button (dashboard:connection-test → cod_confirm.actions.check_connection → the client) against each provider's
loopback simulator with the fault queued there. Netgsm's limit is its result code 80 (its own words are Turkish)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from testkit import LANGS, assert_page_reads, assert_reads_as, connection_test_shown, reader, simulated_connection

from ocbridge.core.models import Connection, Store

pytestmark = pytest.mark.django_db


# What each reader reads before the provider's own words.
SAID = {
    "429": {"en": "rate limited: ", "tr": "istek sınırı aşıldı: ", "ru": "превышен лимит запросов: "},
    "503": {"en": "server error (HTTP 503): ", "tr": "sunucu hatası (HTTP 503): ", "ru": "ошибка сервера (HTTP 503): "},
    "netgsm-429": {"en": "Netgsm's sending limit was reached (code 80): ",
                   "tr": "Netgsm gönderim sınırına ulaşıldı (kod 80): ",
                   "ru": "достигнут лимит отправки Netgsm (код 80): "},
}


@pytest.mark.parametrize("fault", ["429", "503"])
@pytest.mark.parametrize("service", ["verimor", "netgsm", "twilio", "whatsapp", "sandbox"])
def test_a_refused_test_click_reads_in_each_readers_language(service, fault):
    with simulated_connection(service, Store.objects.create(name="Shop")) as (sim, conn):
        said = SAID["netgsm-429" if (service, fault) == ("netgsm", "429") else fault]
        for lang in ("tr", "ru", "en"):
            sim.fail_next(fault, count=20)
            message, row = connection_test_shown(conn, lang)
            assert said[lang] in message, (lang, message)
            assert_reads_as(said, lang, row)


NETGSM_REFUSALS = {
    "sms": {"en": "the sender name (message header) is not defined at Netgsm (code 40): Mesaj başlığınızın",
            "tr": "gönderici adı (mesaj başlığı) Netgsm'de tanımlı değil (kod 40): Mesaj başlığınızın",
            "ru": "имя отправителя (заголовок сообщения) не зарегистрировано в Netgsm (код 40): Mesaj başlığınızın"},
    "call": {"en": "invalid user code or password, no API access, or the IP address is not allowed (code 30)",
             "tr": "geçersiz kullanıcı kodu veya parola, API erişimi yok ya da IP adresine izin verilmiyor (kod 30)",
             "ru": "неверный код пользователя или пароль, нет доступа к API, или IP-адрес не разрешён (код 30)"},
}


@pytest.mark.parametrize("channel", list(NETGSM_REFUSALS))
def test_a_test_message_netgsm_refuses_reads_in_each_readers_language(channel):
    """Netgsm refusing a test message with one of its result codes, its own words Turkish — an SMS with a sender name
    the account does not have (40), a voice message with a wrong password (the voice API answers a bare 30): the job's
    page says what it means in the reader's language. The real "Send a test" form, its job run in a Turkish worker,
    against the Netgsm simulator."""
    from django.utils import translation

    from ocbridge.core.jobs import run_job
    from ocbridge.core.models import Integration, Job
    from ocbridge.integrations.cod_confirm.models import ChannelStep

    said = NETGSM_REFUSALS[channel]
    store = Store.objects.create(name="Shop", country="TR", language="tr")
    with simulated_connection("netgsm", store, secret={"password": "changed-at-netgsm"} if channel == "call" else None,
                              options={"msgheader": "NOT-OURS" if channel == "sms" else "SHOP"}) as (_sim, conn):
        integration = Integration.objects.create(store=store, kind="cod_confirm", connection=conn, settings={})
        ChannelStep.objects.create(integration=integration, position=1, channel=channel, connection=conn)
        resp = reader("en").post(reverse("dashboard:integration-test", args=[store.pk, "cod_confirm"]),
                                 {"test-phone": "+905321234567", "test-channel": channel})
        assert resp.status_code == 302, resp.content.decode()[:2000]
        job = Job.objects.get(kind="cod_confirm.send_test")
        with translation.override("tr"):
            run_job(job.pk)
        job.refresh_from_db()
        assert job.state == "failed" and said["en"] in job.last_error, job.last_error
        assert_page_reads(reverse("dashboard:job", args=[job.pk]), said, r'<p class="err">.*?</p>')


def test_a_test_click_without_credentials_reads_in_each_readers_language():
    """A Verimor connection with neither its PBX key nor its SMS account: the "Test" says so in the reader's language."""
    said = {"en": "Verimor: neither a PBX key nor an SMS account is set",
            "tr": "Verimor: ne santral (PBX) anahtarı ne de SMS hesabı girilmiş",
            "ru": "Verimor: не указаны ни ключ АТС (PBX), ни SMS-аккаунт"}
    store = Store.objects.create(name="Shop")
    conn = Connection.objects.create(store=store, service="verimor", base_url="https://127.0.0.1:9/", secret={})
    for lang in LANGS:
        message, _ = connection_test_shown(conn, lang)
        assert said[lang] in message, (lang, message)
