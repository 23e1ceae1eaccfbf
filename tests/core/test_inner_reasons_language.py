"""Reasons said inside the hub's own modules read in the reader's language, not the worker's: the host rule's refusal
(core.outbound) on a job refused in a Turkish worker, and Twilio's count of sends since a lost answer, said in each
language's plural form (core.sentences: a Sentence with its plural, shown with ngettext) — also on rows stored
before (migration core 0033)."""

from __future__ import annotations

from importlib import import_module

import pytest
from django.utils import translation

from testkit import assert_job_reads
from ocbridge.core.jobs import JobKind, register_job_kind, run_job
from ocbridge.core.models import Connection, Integration, Job, SideEffect, Store
from ocbridge.core.sentences import Sentence, ngettext_noop, storable

pytestmark = pytest.mark.django_db
PHONE = "+905321234567"
CALLS = ngettext_noop("{count} call to this number since the lost answer",
                      "{count} calls to this number since the lost answer")


def _read(sentence: Sentence, lang: str) -> str:
    with translation.override(lang):
        return str(sentence)


def test_a_test_sms_to_a_host_no_longer_allowed_reads_in_each_readers_language(settings):
    """The connection's base URL stopped being one its credentials may go to (the administrator took the loopback
    host off OCBRIDGE_SIMULATOR_HOSTS): the test SMS is not sent, and the job's row and page say why in the reader's
    language, the host rule's reason inside too (before: that reason in the worker's language, Turkish, for all)."""
    from ocbridge.integrations.cod_confirm.models import ChannelStep

    settings.SIMULATOR_HOSTS = []
    store = Store.objects.create(name="Shop", country="TR", language="tr")
    conn = Connection.objects.create(store=store, service="verimor", base_url="http://127.0.0.1:9",
                                     secret={"username": "908501234567", "password": "sms-pass-1234"})
    integration = Integration.objects.create(store=store, kind="cod_confirm", connection=conn)
    ChannelStep.objects.create(integration=integration, position=1, channel="sms", connection=conn)
    job = Job.objects.enqueue("cod_confirm.send_test", key=f"cod_confirm:{store.pk}:test:sms:1",
                              integration=integration, store=store, payload={"phone": PHONE, "channel": "sms"})
    with translation.override("tr"):  # the worker's language must not matter
        run_job(job.pk)
    assert Job.objects.get(pk=job.pk).state == "failed"
    assert_job_reads(job, {"en": "not sent to 127.0.0.1: The base URL must be https on the standard port.",
                           "tr": "127.0.0.1 adresine gönderilmedi: Temel adres standart portta https olmalı.",
                           "ru": "не отправлено на 127.0.0.1: Базовый адрес должен быть https на стандартном порту."})


def test_a_name_that_resolves_inside_the_hub_is_refused_in_each_readers_language(settings):
    """The shop's API URL may be any public host; `localhost` resolves to a loopback address, so a request there is
    refused, said where it is raised (a Turkish worker) and read in each language with its values."""
    from ocbridge.core import outbound

    settings.SIMULATOR_HOSTS = []
    with translation.override("tr"), pytest.raises(outbound.DestinationRefused) as refused:
        outbound.destination("opencart", "http://localhost:8080/index.php")
    said = refused.value.args[0]
    assert isinstance(said, Sentence)
    assert _read(said, "en").startswith("localhost resolves to 127.0.0.1")
    assert _read(said, "tr").startswith("localhost, genel olmayan 127.0.0.1")
    assert _read(said, "ru").startswith("localhost указывает на 127.0.0.1")


@pytest.mark.parametrize("count, said", [
    (1, {"en": "1 call to this number since the lost answer", "tr": "bu numaraya 1 arama yapıldı",
         "ru": "1 звонок на этот номер после потерянного ответа"}),
    (3, {"en": "3 calls to this number since the lost answer", "tr": "bu numaraya 3 arama yapıldı",
         "ru": "3 звонка на этот номер после потерянного ответа"}),
    (5, {"en": "5 calls to this number since the lost answer", "tr": "bu numaraya 5 arama yapıldı",
         "ru": "5 звонков на этот номер после потерянного ответа"}),
])
def test_a_count_is_said_in_each_languages_plural_form_after_it_is_stored(count, said):
    """Stored as a row stores it (core.sentences.storable, and the payments ledger's own) and read back: the count picks
    the form; Arabic, left empty, reads English."""
    from ocbridge.integrations.payments.ledger import said_data

    for data in (storable(Sentence(*CALLS, count=count)), said_data(Sentence(*CALLS, count=count))):
        sentence = Sentence.from_data(data)
        for lang in ("en", "tr", "ru"):
            assert said[lang] in _read(sentence, lang), (lang, _read(sentence, lang))
        assert _read(sentence, "ar") == said["en"] and sentence.english() == said["en"]


@register_job_kind
class TwilioSms(JobKind):
    """Sends one SMS through the Twilio client directly (no outbox), so its error reaches the job's row."""

    kind = "test.twilio_sms"

    def run(self, job):
        from ocbridge.services.twilio import TwilioClient

        TwilioClient(Connection.objects.get(pk=job.payload["connection_id"])).send_sms(to=PHONE, text="Sipariş 1001",
                                                                                      key=job.payload["sms_key"])


def test_twilio_messages_since_a_lost_answer_read_in_each_readers_plural_form(make_conn):
    """Two SMS sent whose answers were lost; asking about the second finds two messages to the number, so its fate is
    unknown: the job's row and page say how many in each reader's language and plural form (before: Russian as
    "сообщений …: 2", no plural form)."""
    from ocbridge.core.errors import RetryableError
    from ocbridge.core.http import HttpClient
    from ocbridge.services.twilio import TwilioClient
    from ocbridge.simulators.twilio import TwilioSimulator

    sid, token, sender = "AC" + "1" * 32, "twilio-token-abcdef", "+15005550006"
    with TwilioSimulator(account_sid=sid, auth_token=token, numbers=(sender,), speed=200) as sim:
        conn = make_conn("twilio", sim.base_url, {"account_sid": sid, "auth_token": token}, {"from_number": sender})
        for key in ("sms-1", "sms-2"):
            sim.fail_next("timeout", seconds=2, after=True)  # the provider takes it; its answer never arrives
            with pytest.raises(RetryableError):
                TwilioClient(conn, http=HttpClient("twilio", base_url=sim.base_url, timeout=0.5)).send_sms(
                    to=PHONE, text="Sipariş 1001", key=key)
        assert len(sim.messages()) == 2
        job = Job.objects.enqueue(TwilioSms, key="twilio-sms-2", payload={"connection_id": conn.pk, "sms_key": "sms-2"})
        with translation.override("tr"):
            run_job(job.pk)
    assert Job.objects.get(pk=job.pk).state == "failed" and len(sim.messages()) == 2  # never a second send
    assert_job_reads(job, {"en": "2 messages to this number since the lost answer",
                           "tr": "yanıtı kaybolan istekten beri bu numaraya 2 mesaj gönderildi",
                           "ru": "2 сообщения на этот номер после потерянного ответа"})


def test_lost_answer_counts_stored_before_their_plural_read_in_each_readers_language():
    """Migration core 0033 on rows the old code wrote: the count alone (a job's row) and inside an outbox row's
    "…; asking failed: …"."""
    from django.apps import apps

    old = {"text": "{count} calls to this number since the lost answer", "values": {"count": 3}}
    job = Job.objects.create(kind="test.twilio_sms", key="old-1", state="failed", last_error="twilio: lost",
                             last_error_said=old)
    effect = SideEffect.objects.create(key="old-2", kind="call", service="twilio", state="unknown", error="lost",
                                       error_said={"text": "{reason}; asking failed: {error}",
                                                   "values": {"reason": "no answer", "error": old}})
    other = SideEffect.objects.create(key="old-3", kind="sms", service="twilio", state="unknown", error="x",
                                      error_said={"text": "network error", "values": {}})
    import_module("ocbridge.core.migrations.0033_lost_answer_counts_plural").plural(apps, None)
    job.refresh_from_db()
    effect.refresh_from_db()
    said = {"en": "3 calls to this number since the lost answer", "tr": "bu numaraya 3 arama yapıldı",
            "ru": "3 звонка на этот номер после потерянного ответа"}
    for lang in ("en", "tr", "ru"):
        with translation.override(lang):
            assert said[lang] in job.error_text() and said[lang] in effect.error_text(), lang
    assert SideEffect.objects.get(pk=other.pk).error_said == {"text": "network error", "values": {}}  # not ours
