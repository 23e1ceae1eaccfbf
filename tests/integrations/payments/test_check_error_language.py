"""A payment status check that fails leaves its error on the job's row in each reader's language (Job.last_error_said
beside the English text): the jobs list and the job's page. The check is the real one (payments.check, queued by "Ask
the gateway now") run in a Turkish worker against the loopback APS and LatitudePay simulators: APS answering 503 or 429
(queued at the simulator), an APS answer whose signature does not match our SHA response phrase, and LatitudePay
refusing a changed API secret."""

from __future__ import annotations

import httpx
import pytest
from django.urls import reverse
from django.utils import translation
from testkit import assert_job_reads, assert_reads, page_read, reader

from ocbridge.core.jobs import run_job
from ocbridge.core.models import Job
from ocbridge.integrations.payments import jobs, links
from ocbridge.services import latitudepay

pytestmark = pytest.mark.django_db

SAID = {
    "503": {"en": "server error (HTTP 503): Service Unavailable", "tr": "sunucu hatası (HTTP 503): Service Unavailable",
            "ru": "ошибка сервера (HTTP 503): Service Unavailable"},
    "429": {"en": "rate limited: Too Many Requests", "tr": "istek sınırı aşıldı: Too Many Requests",
            "ru": "превышен лимит запросов: Too Many Requests"},
    "signature": {"en": "the answer's signature does not match the SHA response phrase",
                  "tr": "yanıtın imzası SHA yanıt ifadesiyle eşleşmiyor",
                  "ru": "подпись ответа не совпадает с фразой ответа SHA"},
    "gave up": {"en": "gave up after 1 attempt: server error (HTTP 503): Service Unavailable",
                "tr": "1 denemeden sonra bırakıldı: sunucu hatası (HTTP 503): Service Unavailable",
                "ru": "прекращено после 1 попытки: ошибка сервера (HTTP 503): Service Unavailable"},
    "no order": {"en": "Order 630 does not exist in the shop.", "tr": "630 numaralı sipariş mağazada yok.",
                 "ru": "Заказа 630 нет в магазине."},
    "latitude": {"en": "API key or secret refused: ", "tr": "API anahtarı veya gizli anahtar reddedildi: ",
                 "ru": "отклонено — API-ключ или секрет: "},
}


def _check(payment, *, max_attempts: int | None = None) -> Job:
    assert jobs.ask_now(payment)
    job = Job.objects.filter(kind=jobs.CheckPayment.kind).latest("pk")
    if max_attempts is not None:
        Job.objects.filter(pk=job.pk).update(max_attempts=max_attempts)
    with translation.override("tr"):  # the worker's language must not matter
        run_job(job.pk)
    job.refresh_from_db()
    return job


@pytest.mark.parametrize("fault", ["503", "429", "signature"])
def test_a_failing_aps_status_check_reads_in_each_readers_language(aps_bed, fault):
    bed = aps_bed("3.0")
    payment = bed.new_payment(610)
    if fault == "signature":  # the phrase changed at APS but not here: every answer's signature is "wrong"
        bed.connection.secret = {**bed.connection.secret, "sha_response_phrase": "CHANGED-AT-APS"}
        bed.connection.save()
    else:
        bed.sim.fail_next(fault, count=20)
    job = _check(payment)
    assert job.state == "queued" and job.last_error_said  # retried later
    assert_job_reads(job, SAID[fault])


@pytest.mark.parametrize("fault", ["refused", "503"])
def test_a_failing_latitudepay_status_check_reads_in_each_readers_language(lat_bed, fault):
    bed = lat_bed("3.0")
    payment = bed.new_payment(620, currency="AUD", language="en")
    assert httpx.get(links.url_for(payment), follow_redirects=True, timeout=10).status_code == 200  # a sale exists
    payment.refresh_from_db()
    assert payment.gateway_id
    if fault == "503":
        bed.sim.fail_next("503", count=20)
        job = _check(payment)
        assert job.state == "queued"  # tried again later
        assert_job_reads(job, SAID["503"])
        return
    bed.connection.secret = {**bed.connection.secret, "api_secret": "changed-at-latitude"}
    bed.connection.save()
    latitudepay.forget_tokens()
    job = _check(payment)
    assert job.state == "failed"
    assert_job_reads(job, SAID["latitude"])


@pytest.mark.parametrize("service, secret, said", [
    ("aps", {"merchant_identifier": "MxvOupuG", "access_code": "SILgpo7pWbmzuURp2qri"},
     {"en": "the APS connection needs request_phrase, response_phrase",
      "tr": "APS bağlantısında eksik alanlar: request_phrase, response_phrase",
      "ru": "в подключении APS не заполнено: request_phrase, response_phrase"}),
    ("latitudepay", {"api_key": "lp-key"},
     {"en": "the LatitudePay connection needs the API key and API secret",
      "tr": "LatitudePay bağlantısı için API anahtarı ve API gizli anahtarı gerekli",
      "ru": "для подключения LatitudePay нужны API-ключ и API-секрет"})])
def test_a_gateway_test_with_missing_credentials_reads_in_each_readers_language(service, secret, said):
    """The gateway's settings "Test" (payments:test) with credentials left out says which, in the reader's language."""
    from ocbridge.core.models import Connection, Integration, Store

    store = Store.objects.create(name="Gulf shop", currency="AED")
    conn = Connection.objects.create(store=store, service=service, base_url="https://127.0.0.1:9/", secret=secret,
                                     options={"currency": "AUD"} if service == "latitudepay" else {})
    integration = Integration.objects.create(store=store, kind=service, connection=conn, settings={})

    def shown(lang: str) -> str:
        client = reader(lang)
        client.post(reverse("payments:test", args=[integration.pk]))
        return page_read(reverse("dashboard:jobs"), lang, r'<ul class="messages".*?</ul>', client=client)  # shown next

    assert_reads(said, shown)


def test_a_status_check_that_gives_up_reads_in_each_readers_language(aps_bed):
    """Its last attempt answered 503 too: the job fails, "gave up after …" around the gateway's error, both said."""
    bed = aps_bed("3.0")
    payment = bed.new_payment(611)
    bed.sim.fail_next("503", count=20)
    job = _check(payment, max_attempts=1)  # its last attempt
    assert job.state == "failed"
    assert_job_reads(job, SAID["gave up"], stored="gave up after 1 attempt: aps: 503 server error (HTTP 503)")


def test_a_paid_order_gone_from_the_shop_reads_in_each_readers_language(aps_bed):
    """The customer paid, but the order was deleted from the shop meanwhile: the "paid" history job's row says so."""
    import sqlalchemy as sa

    bed = aps_bed("3.0")
    payment = bed.new_payment(630)
    link = links.url_for(payment)
    with bed.shop.engine.begin() as conn:
        conn.execute(sa.text(f"DELETE FROM {bed.shop.prefix}order WHERE order_id = 630"))
    bed.customer_pays(link)
    with translation.override("tr"):
        bed.settle()
    job = Job.objects.get(kind="payments.shop_paid")
    assert job.state == "failed"
    assert_job_reads(job, SAID["no order"])
