"""COD confirmation's part in the watchdog (core.watchdog) and in switching back on (core.outbox resume policy).

- A confirmation still open for the robot with no queued or running job, and no paused side effect waiting for a
  switch, is stuck (a worker died between two steps that are not one transaction, a job a bug parked). The
  watchdog resumes it: re-queues its due attempt, or closes the attempt in flight when its window has ended;
  when neither applies it goes to a person.
- A call or SMS paused while the store, the connection or COD confirmation was switched off is resumed on switch-on
  only while it is still inside its calling day (the store's local date it was due, with calling hours left) and
  its answer window; older ones are withdrawn and the order goes to the owner's "needs you" list. Never a silent
  skip, never a late surprise call.
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import BigIntegerField, Exists, OuterRef
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast

from ocbridge.core import clock, outbox
from ocbridge.core.choices import JOB_OPEN_STATES, JobState, SideEffectState
from ocbridge.core.models import Job, SideEffect
from ocbridge.core.watchdog import register_finder
from ocbridge.integrations.cod_confirm import rules
from ocbridge.integrations.cod_confirm.choices import OPEN, AttemptState, ConfirmationState
from ocbridge.integrations.cod_confirm.models import Attempt, Confirmation

GRACE = timedelta(minutes=5)  # a case that changed this recently may be between two steps of a live worker


def _stuck(stores=None):
    """Open confirmations with no live job about them (by confirmation or by attempt) and nothing paused."""
    live = Job.objects.filter(state__in=JOB_OPEN_STATES).annotate(  # ids as numbers: PostgreSQL compares no jsonb to int
        case=Cast(KeyTextTransform("confirmation_id", "payload"), BigIntegerField()),
        attempt=Cast(KeyTextTransform("attempt_id", "payload"), BigIntegerField()))
    live_by_case = live.filter(case=OuterRef("pk"))
    live_by_attempt = live.filter(attempt__in=Attempt.objects.filter(confirmation=OuterRef(OuterRef("pk"))).values("pk"))
    paused = SideEffect.objects.filter(state=SideEffectState.PAUSED, key__in=Attempt.objects.filter(
        confirmation=OuterRef(OuterRef("pk"))).values("key"))
    qs = Confirmation.objects.filter(state__in=OPEN, updated__lt=clock.now() - GRACE, integration__enabled=True,
                                     store__enabled=True)
    if stores is not None:
        qs = qs.filter(store__in=stores)
    return qs.filter(~Exists(live_by_case), ~Exists(live_by_attempt), ~Exists(paused))


def count(stores) -> int:
    return _stuck(stores).count()


def fix() -> tuple[int, int]:
    from ocbridge.integrations.cod_confirm import jobs

    resumed = handed = 0
    for c in _stuck().select_related("integration", "store")[:200]:
        last = c.attempts.order_by("-number", "-id").first()
        if last is not None and last.state in (AttemptState.IN_FLIGHT, AttemptState.UNKNOWN):
            # Waiting for a result with no close-out queued: close it at its window's end.
            effect = SideEffect.objects.filter(key=last.key).first()
            when = max(clock.now(), effect.answer_until if effect and effect.answer_until else clock.now())
            _requeue_or_enqueue(jobs.CloseUnanswered, f"{last.key}:timeout", c, when, {"attempt_id": last.pk})
            resumed += 1
            continue
        number = c.attempts_made + 1 if last is None or last.state != AttemptState.REQUESTED else last.number
        key = jobs._key(c, "attempt", number)
        if Job.objects.filter(key=key, state=JobState.FAILED).exists():  # it gave up trying: no endless re-queue
            c.move(ConfirmationState.NEEDS_PERSON, reason=f"attempt {number} could not be sent; a person takes over",
                   expect=OPEN, needs_person_reason="could not be sent")
            handed += 1
            continue
        due = jobs.attempt_due(c, number)
        if due is None:
            jobs.next_or_give_up(c, number - 1, reason="the watchdog found nothing scheduled")
            handed += 1
            continue
        _requeue_or_enqueue(jobs.StartAttempt, key, c, due,
                            {"confirmation_id": c.pk, "number": number})
        c.move(c.state, reason=f"attempt {number} due {due:%Y-%m-%d %H:%M} UTC", expect=OPEN, next_attempt_at=due)
        resumed += 1
    return resumed, handed


def _requeue_or_enqueue(kind, key: str, c: Confirmation, when, payload: dict) -> None:
    """The job under `key` queued again at `when` (it may exist and be finished), else a new one."""
    hit = Job.objects.filter(key=key).exclude(state__in=JOB_OPEN_STATES).update(
        state=JobState.QUEUED, next_run_at=when, finished_at=None, dispatched_at=None, payload=payload)
    if not hit:
        Job.objects.enqueue(kind, key=key, integration=c.integration, run_at=when, payload=payload)


register_finder("cod_confirm", count=count, fix=fix)


@outbox.register_resume_policy("cod_confirm.")
def resume_or_hand_over(effect: SideEffect) -> bool:
    """Switched on again: resume a paused call/SMS still inside its calling day, else a person takes the order."""
    from ocbridge.integrations.cod_confirm.jobs import config_of

    attempt = Attempt.objects.select_related("confirmation__integration", "confirmation__store").filter(
        key=effect.key).first()
    if attempt is None:
        return True  # not an attempt (a polite reply): resume
    c = attempt.confirmation
    if c.state not in OPEN:
        _withdraw(effect, attempt, f"not sent: the order is {c.state} now")
        return False
    now = clock.now()
    allowed = rules.next_allowed(now, config_of(c.integration), c.store.zone)
    zone = c.store.zone
    same_day = allowed is not None and allowed.astimezone(zone).date() == effect.created.astimezone(zone).date()
    if same_day:
        return True
    _withdraw(effect, attempt, "paused past its calling day; handed to a person")
    c.move(ConfirmationState.NEEDS_PERSON, reason="paused while switched off, past its calling day; nothing sent",
           expect=OPEN, needs_person_reason="paused while switched off")
    return False


def _withdraw(effect: SideEffect, attempt: Attempt, reason: str) -> None:
    """The paused attempt will not be sent: it was never made, so it is neither answered nor unanswered (no risk
    mark, not in the answer rate)."""
    outbox.cancel(effect, reason)
    Attempt.objects.filter(pk=attempt.pk, state=AttemptState.REQUESTED).update(state=AttemptState.WITHDRAWN)
