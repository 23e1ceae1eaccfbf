"""Ozon's counts read in each language's plural form (ru: 1 карточка / 2 карточки / 5 карточек): the cards that wait
for the daily quota on the product sync's row (said, core.sentences), the sync jobs queued by "Sync now" and the
categories cached on the mapping page (ngettext)."""

from __future__ import annotations

import html
import re
from types import SimpleNamespace

import pytest

from testkit import assert_job_reads, assert_reads, page_read, reader
from ocbridge.core.choices import JobState
from ocbridge.core.jobs import run_job
from ocbridge.core.models import Connection, Integration, Job, Store
from ocbridge.integrations.ozon import jobs, rules, views

pytestmark = pytest.mark.django_db


@pytest.fixture
def integ(sim, settings):
    settings.SIMULATOR_HOSTS = ["127.0.0.1"]
    store = Store.objects.create(name="S")
    (client_id, api_key), = sim.accounts.items()
    conn = Connection.objects.create(store=store, service="ozon", base_url=sim.base_url,
                                     secret={"client_id": client_id, "api_key": api_key})
    return Integration.objects.create(store=store, kind="ozon", connection=conn, settings={})


@pytest.mark.parametrize("held, said", [
    (1, {"en": "1 card waits for Ozon's daily quota to reset",
         "tr": "1 kart Ozon'un günlük kotasının sıfırlanmasını bekliyor", "ru": "1 карточка ждёт сброса дневной квоты Ozon"}),
    (2, {"en": "2 cards wait for Ozon's daily quota to reset",
         "tr": "2 kart Ozon'un günlük kotasının sıfırlanmasını bekliyor", "ru": "2 карточки ждут сброса дневной квоты Ozon"}),
    (5, {"en": "5 cards wait for Ozon's daily quota to reset",
         "tr": "5 kart Ozon'un günlük kotasının sıfırlanmasını bekliyor", "ru": "5 карточек ждут сброса дневной квоты Ozon"}),
])
def test_cards_waiting_for_the_daily_quota_read_in_each_languages_plural_form(integ, held, said, monkeypatch):
    """A push over the quota (what fits sent, `held` cards left for after the reset): the product sync's row waits,
    saying how many in the reader's form (before: "1 cards wait", ru "карточки ждут … Ozon: 2")."""
    monkeypatch.setattr(rules, "QUOTA_CHECK_FROM", 0)
    monkeypatch.setattr(jobs.SyncProducts, "plan", staticmethod(lambda ctx, full=False: (
        SimpleNamespace(send=[], missing={}), {}, [])))
    monkeypatch.setattr(jobs.SyncProducts, "_record_missing", lambda self, *a: None)
    monkeypatch.setattr(jobs.SyncProducts, "_within_quota", lambda self, ctx, plan, bindings: ([], held, None))
    job = Job.objects.enqueue(jobs.SyncProducts, key=f"ozon:quota:{held}", integration=integ, store=integ.store)
    run_job(job.pk)
    assert Job.objects.get(pk=job.pk).state == JobState.QUEUED
    assert_job_reads(job, said)


@pytest.mark.parametrize("queued, said", [
    (1, {"en": "1 sync job queued.", "tr": "1 eşitleme işi sıraya alındı.",
         "ru": "В очередь поставлена 1 задача синхронизации."}),
    (2, {"en": "2 sync jobs queued.", "tr": "2 eşitleme işi sıraya alındı.",
         "ru": "В очередь поставлено 2 задачи синхронизации."}),
    (5, {"en": "5 sync jobs queued.", "tr": "5 eşitleme işi sıraya alındı.",
         "ru": "В очередь поставлено 5 задач синхронизации."}),
])
def test_sync_now_says_the_jobs_queued_in_each_languages_plural_form(integ, queued, said, monkeypatch):
    monkeypatch.setattr(views.jobs, "enqueue_sync", lambda integration, full=False: (list(range(queued)), False))

    def message(lang: str) -> str:
        page = html.unescape(reader(lang).post(f"/ozon/{integ.pk}/sync/", follow=True).content.decode())
        return re.search(r'<ul class="messages".*?</ul>', page, re.S).group(0)

    assert_reads(said, message)


@pytest.mark.parametrize("leaves, said", [
    (1, {"en": "1 Ozon category cached.", "tr": "1 Ozon kategorisi önbelleğe alındı.",
         "ru": "Сохранена 1 категория Ozon."}),
    (2, {"en": "2 Ozon categories cached.", "tr": "2 Ozon kategorisi önbelleğe alındı.",
         "ru": "Сохранено 2 категории Ozon."}),
    (5, {"en": "5 Ozon categories cached.", "tr": "5 Ozon kategorisi önbelleğe alındı.",
         "ru": "Сохранено 5 категорий Ozon."}),
])
def test_the_mapping_page_says_the_categories_cached_in_each_languages_plural_form(integ, leaves, said, monkeypatch):
    tree = [{"description_category_id": 10, "category_name": "Phones",
             "children": [{"type_id": 11 + i, "type_name": f"Type {i}"} for i in range(leaves)]}]
    monkeypatch.setattr(views, "_category_tree", lambda request, integration: tree)
    assert_reads(said, lambda lang: page_read(f"/ozon/{integ.pk}/mapping/", lang, r"<h2>.*?</p>"))
