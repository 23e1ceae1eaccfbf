"""Job pages: list with filters, one Job in detail, "retry now" (audited) and "test the worker"."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpResponse
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ocbridge.core import access, clock
from ocbridge.core.choices import JobState, Role
from ocbridge.core.models import Job
from ocbridge.dashboard.audit import audit
from ocbridge.dashboard.filters import job_queryset
from ocbridge.dashboard.tables import table_page
from ocbridge.dashboard.forms import JobFilterForm, RetryJobForm

RETRYABLE_STATES = (JobState.FAILED, JobState.ERRORED, JobState.QUEUED)


@login_required
def job_list(request) -> HttpResponse:
    form = JobFilterForm(request.GET or None, user=request.user)
    page = table_page(job_queryset(form, request.user), request.GET, sorts=SORTS)
    return render(request, "dashboard/jobs/list.html", {"form": form, "page": page, "nav": "jobs"})


SORTS = {"id": "id", "kind": "kind", "state": "state", "attempts": "attempts", "next_run": "next_run_at"}


@login_required
def job_detail(request, pk: int) -> HttpResponse:
    job = access.get_scoped(Job.objects.select_related("store", "integration"), request.user, pk=pk)
    exchanges = access.scoped(job.exchanges.order_by("-pk"), request.user)[:50]
    return render(request, "dashboard/jobs/detail.html", {
        "job": job, "exchanges": exchanges, "nav": "jobs", "retry_form": RetryJobForm(),
        "can_retry": job.state in RETRYABLE_STATES})


@login_required
@require_POST
def job_retry(request, pk: int) -> HttpResponse:
    job = access.get_scoped(Job, request.user, Role.OPERATOR, pk=pk)
    form = RetryJobForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("The reason is too long."))
        return redirect("dashboard:job", pk=pk)
    now = clock.now()
    with transaction.atomic():
        # Compare-and-set on the state: a job a worker claimed meanwhile is left alone.
        hit = Job.objects.filter(pk=pk, state__in=RETRYABLE_STATES).update(
            state=JobState.QUEUED, next_run_at=now, finished_at=None, dispatched_at=None,
            # one more try even when attempts ran out; the job's idempotency key stays the same
            max_attempts=max(job.max_attempts, job.attempts + 1))
        if hit:
            audit(request, "job.retry", obj=job, store=job.store, reason=form.cleaned_data["reason"],
                  previous_state=job.state, attempts=job.attempts, kind=job.kind)
            job.refresh_from_db()
            from ocbridge.core.jobkinds import schedule_on_commit

            schedule_on_commit(job)
    if hit:
        messages.success(request, _("Job #%(id)s queued to run now.") % {"id": pk})
    else:
        messages.error(request, _("Job #%(id)s is %(state)s and cannot be retried now.")
                       % {"id": pk, "state": job.get_state_display()})
    return redirect("dashboard:job", pk=pk)


@login_required
@require_POST
def worker_probe(request) -> HttpResponse:
    """Enqueue a harmless job; when it turns 'done' the worker is running. A hub-wide job: administrators only."""
    if not access.sees_everything(request.user):
        raise PermissionDenied
    from ocbridge.core.probe import RunProbe

    job = Job.objects.enqueue(RunProbe, key=f"dashboard:probe:{clock.now().timestamp():.6f}",
                              payload={"seconds": 0})
    audit(request, "worker.probe", obj=job)
    messages.info(request, _("Test job #%(id)s queued. If the worker runs, it is done within seconds.") % {"id": job.pk})
    return redirect("dashboard:job", pk=job.pk)
