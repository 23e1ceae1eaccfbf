"""The runner's own reasons on a job's row read in each reader's language (Job.last_error_said beside the English
text): a lost worker's job queued again or failed, a locked hub database; and every wait (core.jobs.Defer) in the
code is said, not English text only. Stored rows from before are said by migration core 0032."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.db import OperationalError
from django.utils import translation

from testkit import assert_job_reads
from ocbridge.core import clock
from ocbridge.core.choices import JobState
from ocbridge.core.jobs import JobKind, claim, register_job_kind, requeue_expired, run_job
from ocbridge.core.models import Job

pytestmark = pytest.mark.django_db

SRC = Path(__file__).resolve().parents[2] / "src" / "ocbridge"

# The runner's reasons as each reader reads them (also what migration core 0032 says of the old rows' text).
LOST_EXHAUSTED = {"en": "worker lost; attempts exhausted", "tr": "işleyici kayboldu; denemeler tükendi",
                  "ru": "обработчик потерян; попытки исчерпаны"}
LOCKED = {"en": "hub database unavailable: database is locked",
          "tr": "merkezin veritabanına ulaşılamıyor: database is locked",
          "ru": "база данных хаба недоступна: database is locked"}


@register_job_kind
class LockedHub(JobKind):
    """Meets a locked hub database on every run."""

    kind = "test.locked_hub"
    max_attempts = 2

    def run(self, job):
        raise OperationalError("database is locked")


def _lost(key: str, attempts: int = 0) -> Job:
    """A job (`attempts` already used) a worker claimed and died with, found by the dispatcher once its claim expired."""
    job = Job.objects.enqueue(LockedHub, key=key)
    Job.objects.filter(pk=job.pk).update(attempts=attempts)
    assert claim(job.pk) is not None  # a worker took it and died
    clock.travel(LockedHub.claim_seconds + 1)
    with translation.override("tr"):  # the dispatcher's language must not matter
        assert requeue_expired() == 1
    return job


def test_a_job_whose_worker_was_lost_reads_in_each_readers_language():
    job = _lost("lost-1")
    assert Job.objects.get(pk=job.pk).state == JobState.QUEUED
    assert_job_reads(job, {"en": "worker lost (claim expired); retried",
                           "tr": "işleyici kayboldu (sahiplenme süresi doldu); yeniden kuyruğa alındı",
                           "ru": "обработчик потерян (срок захвата истёк); поставлено в очередь снова"})


def test_a_job_whose_worker_was_lost_with_its_attempts_used_up_reads_in_each_readers_language():
    job = _lost("lost-2", attempts=LockedHub.max_attempts - 1)
    assert Job.objects.get(pk=job.pk).state == JobState.FAILED
    assert_job_reads(job, LOST_EXHAUSTED)


def test_a_locked_hub_database_reads_in_each_readers_language_with_the_drivers_words():
    """Queued again, then given up: our framing is said, SQLite's own words ("database is locked") kept as they are."""
    job = Job.objects.enqueue(LockedHub, key="locked-1")
    with translation.override("tr"):
        run_job(job.pk)
    assert Job.objects.get(pk=job.pk).state == JobState.QUEUED
    assert_job_reads(job, LOCKED)
    clock.travel(3600)
    with translation.override("tr"):
        run_job(job.pk)
    assert Job.objects.get(pk=job.pk).state == JobState.FAILED
    assert_job_reads(job, {"en": "gave up after 2 attempts: hub database unavailable: database is locked",
                           "tr": "2 denemeden sonra bırakıldı: merkezin veritabanına ulaşılamıyor: database is locked",
                           "ru": "прекращено после 2 попыток: база данных хаба недоступна: database is locked"})


def test_every_wait_in_the_code_is_said():
    """A kind's Defer reason reaches the jobs list: each one is a Sentence (core.sentences), not English text."""
    plain = []
    for path in SRC.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and \
                    getattr(node.exc.func, "id", "") == "Defer" and len(node.exc.args) > 1:
                reason = node.exc.args[1]
                if not (isinstance(reason, ast.Call) and getattr(reason.func, "id", "") == "Sentence"):
                    plain.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert not plain, plain


def test_jobs_stored_before_their_reasons_were_said_read_in_each_readers_language():
    """Migration core 0032 on rows the old code wrote (English text only); Ozon's count then in its plural form (0035)."""
    from importlib import import_module

    from django.apps import apps

    said = import_module("ocbridge.core.migrations.0032_job_waits_said").said
    rows = {text: Job.objects.create(kind="test.locked_hub", key=f"old-{i}", state=state, last_error=text)
            for i, (text, state) in enumerate([("worker lost; attempts exhausted", JobState.FAILED),
                                               ("hub database unavailable: database is locked", JobState.QUEUED),
                                               ("attempt 2 may still be answered", JobState.QUEUED),
                                               ("12 cards wait for Ozon's daily quota to reset", JobState.QUEUED),
                                               ("number rejected by provider", JobState.FAILED)])}
    said(apps, None)
    import_module("ocbridge.core.migrations.0035_job_counts_plural").plural(apps, None)
    assert_job_reads(rows["worker lost; attempts exhausted"], LOST_EXHAUSTED)
    assert_job_reads(rows["hub database unavailable: database is locked"], LOCKED)
    assert_job_reads(rows["attempt 2 may still be answered"], {
        "en": "attempt 2 may still be answered", "tr": "2. deneme hâlâ yanıtlanabilir",
        "ru": "на попытку 2 ещё может прийти ответ"})
    assert_job_reads(rows["12 cards wait for Ozon's daily quota to reset"], {
        "en": "12 cards wait for Ozon's daily quota to reset", "tr": "12 kart Ozon'un günlük kotasının sıfırlanmasını bekliyor",
        "ru": "12 карточек ждут сброса дневной квоты Ozon"})
    assert Job.objects.get(pk=rows["number rejected by provider"].pk).last_error_said is None  # not ours: as it was
