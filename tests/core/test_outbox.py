"""The outbox (core.outbox): each side effect is made once, doubtful answers become "unknown", never a resend."""

from datetime import timedelta

import pytest

from ocbridge.core import clock, outbox
from ocbridge.core.choices import JobState
from ocbridge.core.errors import RetryableError, TerminalError
from ocbridge.core.http import NetworkError
from ocbridge.core.jobs import ClaimLost, JobKind, claim, current_job, register_job_kind, requeue_expired
from ocbridge.core.models import Connection, Integration, Job, SideEffect, Store

pytestmark = pytest.mark.django_db


class Provider:
    """Stands in for the provider's side of the wire: counts what reached it, fails as told."""

    def __init__(self, fail: Exception | None = None, acted: bool = True):
        self.received: list[str] = []
        self.fail, self.acted = fail, acted

    def send(self, effect):
        if self.fail is None or self.acted:
            self.received.append(effect.key)
        if self.fail is not None:
            exc, self.fail = self.fail, None
            raise exc
        return f"P-{len(self.received)}"

    def ask(self, effect):
        return f"P-{len(self.received)}" if effect.key in self.received else None


@pytest.fixture
def effect():
    store = Store.objects.create(name="S", db_url="sqlite:////nonexistent/outbox.db")
    conn = Connection.objects.create(store=store, service="sandbox")
    integration = Integration.objects.create(store=store, kind="cod_confirm", connection=conn)
    return outbox.request("k:1", kind="call", service="sandbox", store=store, connection=conn, integration=integration)


def test_requesting_a_key_twice_gives_one_row_with_a_short_number(effect):
    again = outbox.request("k:1", kind="call", service="sandbox")
    assert again.pk == effect.pk and SideEffect.objects.count() == 1
    assert len(str(effect.correlation)) == 12  # fits Netgsm relationid, APS merchant_reference, WhatsApp payloads


def test_performed_once_however_often_it_is_asked(effect):
    p = Provider()
    first = outbox.perform(effect, p.send)
    second = outbox.perform(SideEffect.objects.get(pk=effect.pk), p.send)
    assert first.state == second.state == "sent" and first.provider_id == "P-1"
    assert p.received == ["k:1"]


@pytest.mark.parametrize("error", [NetworkError("sandbox", "timeout", "read timed out", maybe_sent=True),
                                   RetryableError("sandbox", 502, "Bad Gateway"),
                                   RetryableError("sandbox", 504, "Gateway Timeout")])
def test_a_timeout_or_gateway_error_after_the_provider_acted_is_unknown_and_never_resent(effect, error):
    p = Provider(fail=error, acted=True)
    done = outbox.perform(effect, p.send, answer_window=600)
    assert done.state == "unknown" and done.answer_until > clock.now()
    assert outbox.may_still_answer(done)
    outbox.perform(SideEffect.objects.get(pk=effect.pk), p.send)  # a retried job
    assert p.received == ["k:1"]


def test_a_doubtful_error_asks_the_provider_first(effect):
    p = Provider(fail=RetryableError("sandbox", 502, "Bad Gateway"), acted=True)
    done = outbox.perform(effect, p.send, ask=p.ask)
    assert done.state == "sent" and done.provider_id == "P-1" and p.received == ["k:1"]


def test_the_provider_saying_it_never_arrived_lets_the_retry_send(effect):
    p = Provider(fail=RetryableError("sandbox", 502, "Bad Gateway"), acted=False)
    with pytest.raises(RetryableError):
        outbox.perform(effect, p.send, ask=p.ask)
    assert SideEffect.objects.get(pk=effect.pk).state == "requested"
    assert outbox.perform(SideEffect.objects.get(pk=effect.pk), p.send).state == "sent" and p.received == ["k:1"]


def test_a_refused_connection_is_not_sent_and_retried(effect):
    p = Provider(fail=NetworkError("sandbox", "connect", "refused", maybe_sent=False), acted=False)
    with pytest.raises(RetryableError):
        outbox.perform(effect, p.send)
    assert SideEffect.objects.get(pk=effect.pk).state == "requested"


def test_a_refusal_is_failed_with_the_providers_words(effect):
    done = outbox.perform(effect, Provider(fail=TerminalError("sandbox", 400, "number rejected"), acted=False).send)
    assert done.state == "failed" and "number rejected" in done.error


def test_a_row_left_sending_by_a_lost_run_is_unknown_not_resent(effect):
    SideEffect.objects.filter(pk=effect.pk).update(state="sending", sent_by="f" * 32)
    p = Provider()
    assert outbox.perform(SideEffect.objects.get(pk=effect.pk), p.send).state == "unknown" and p.received == []


@register_job_kind
class Outboxing(JobKind):
    kind = "test.outboxing"


def _left_by_a_killed_run(effect, state: str, *, claim_ended: bool) -> SideEffect:
    """The row as a worker SIGKILLed between begin() and the provider's answer leaves it; its job's claim either
    still running (not expired yet) or expired and cleared by the dispatcher."""
    job = claim(Job.objects.enqueue(Outboxing, key=f"ob-killed-{state}").pk)
    SideEffect.objects.filter(pk=effect.pk).update(state=state, sent_by=job.claim_token)
    if claim_ended:
        clock.travel(Outboxing.claim_seconds + 1)
        requeue_expired()
    return SideEffect.objects.get(pk=effect.pk)


@pytest.mark.parametrize("state", ["sending", "unknown"])
def test_resend_absent_sends_once_what_a_killed_run_never_delivered_once_its_claim_ended(effect, state):
    p = Provider()
    done = outbox.perform(_left_by_a_killed_run(effect, state, claim_ended=True), p.send, ask=p.ask, resend_absent=True)
    assert done.state == "sent" and p.received == ["k:1"]
    outbox.perform(SideEffect.objects.get(pk=effect.pk), p.send, ask=p.ask, resend_absent=True)
    assert p.received == ["k:1"]


def test_resend_absent_never_resends_what_the_provider_has(effect):
    p = Provider()
    p.received.append("k:1")  # the killed run's request arrived; its answer was lost with the worker
    done = outbox.perform(_left_by_a_killed_run(effect, "sending", claim_ended=True), p.send, ask=p.ask,
                          resend_absent=True)
    assert done.state == "sent" and p.received == ["k:1"]


def test_resend_absent_waits_while_the_sending_run_still_holds_its_claim(effect):
    p = Provider()  # the sender may only be slow: its request can still arrive
    done = outbox.perform(_left_by_a_killed_run(effect, "sending", claim_ended=False), p.send, ask=p.ask,
                          resend_absent=True)
    assert done.state == "unknown" and p.received == []


def test_a_run_that_lost_its_claim_cannot_begin_sending(effect):
    job = claim(Job.objects.enqueue(Outboxing, key="ob-1").pk)
    clock.travel(Outboxing.claim_seconds + 1)
    requeue_expired()
    claim(job.pk)  # another worker has it now
    token = current_job.set(job)  # the stalled run wakes with its old claim
    try:
        p = Provider()
        with pytest.raises(ClaimLost):
            outbox.perform(effect, p.send)
    finally:
        current_job.reset(token)
    assert p.received == [] and SideEffect.objects.get(pk=effect.pk).state == "requested"


def _taken_over_meanwhile(job):
    """What a freeze of `job`'s run does meanwhile: its claim runs out, the dispatcher clears it, another run claims."""
    clock.travel(Outboxing.claim_seconds + 1)
    requeue_expired()
    return claim(job.pk)


def test_a_run_frozen_after_beginning_and_taken_over_stops_before_sending_and_says_so(effect, monkeypatch):
    job = claim(Job.objects.enqueue(Outboxing, key="ob-frozen").pk)
    monkeypatch.setattr(outbox, "send_hook", lambda e: _taken_over_meanwhile(job))
    p = Provider()
    token = current_job.set(job)
    try:
        with pytest.raises(ClaimLost):
            outbox.perform(effect, p.send)
    finally:
        current_job.reset(token)
    row = SideEffect.objects.get(pk=effect.pk)
    assert p.received == [] and row.state == "requested" and row.sent_by == ""  # surely not sent: the next run sends
    assert "stopped before sending, nothing sent" in row.late


def test_a_late_send_from_a_run_taken_over_is_kept_beside_the_new_holders_state_never_over_it(effect):
    job = claim(Job.objects.enqueue(Outboxing, key="ob-late").pk)
    p, holder = Provider(), {}

    def frozen_mid_call(e):  # the run froze after its last check, its request still to leave
        holder["job"] = _taken_over_meanwhile(job)
        SideEffect.objects.filter(pk=e.pk).update(state="sending", sent_by=holder["job"].claim_token)
        return p.send(e)

    token = current_job.set(job)
    try:
        with pytest.raises(ClaimLost):
            outbox.perform(effect, frozen_mid_call)
    finally:
        current_job.reset(token)
    row = SideEffect.objects.get(pk=effect.pk)
    assert (row.state, row.sent_by, row.provider_id) == ("sending", holder["job"].claim_token, "")
    assert "late duplicate" in row.late and "P-1" in row.late


def test_a_row_the_lost_run_gave_back_meanwhile_is_sent_by_the_run_that_found_it_sending(effect):
    found = SideEffect.objects.get(pk=effect.pk)
    found.state, found.sent_by = "sending", "f" * 32  # as read, just before the woken run gave it back (requested)
    p = Provider()
    assert outbox.perform(found, p.send).state == "sent" and p.received == ["k:1"]


def test_results_match_by_provider_id_or_by_our_echoed_reference(effect):
    outbox.perform(effect, Provider().send)
    assert outbox.match("sandbox", provider_id="P-1").pk == effect.pk
    assert outbox.match("sandbox", provider_id="nope", reference=str(effect.correlation)).pk == effect.pk
    assert outbox.match("sandbox", reference="k:1").pk == effect.pk
    assert outbox.match("verimor", provider_id="P-1") is None and outbox.match("sandbox", reference="") is None


def test_an_unknown_send_named_by_a_late_result_becomes_sent(effect):
    outbox.perform(effect, Provider(fail=RetryableError("sandbox", 504, "Gateway Timeout")).send)
    late = outbox.match("sandbox", reference=str(effect.correlation))
    assert late.state == "unknown" and outbox.sent(late, "P-late")
    assert SideEffect.objects.get(pk=effect.pk).provider_id == "P-late"


def test_a_sent_side_effect_a_late_result_reports_undelivered_is_failed_and_no_longer_spent(effect):
    """core.spend counts failed rows as free: a message the provider later reports undelivered (WhatsApp's `failed`
    status) stops counting against the store's daily caps; a row not sent yet is left alone."""
    from ocbridge.core import spend

    outbox.perform(effect, Provider().send)
    since = clock.now() - timedelta(hours=1)
    assert spend.usage([effect.store_id], since) == {(effect.store_id, "call", "sandbox"): 1}
    assert outbox.undelivered(effect, "failed: 131026 Message undeliverable")
    row = SideEffect.objects.get(pk=effect.pk)
    assert (row.state, row.provider_id, row.error) == ("failed", "P-1", "failed: 131026 Message undeliverable")
    assert spend.usage([effect.store_id], since) == {}
    assert not outbox.undelivered(row, "again")  # once
    waiting = outbox.request("k:2", kind="call", service="sandbox", store=effect.store)
    assert not outbox.undelivered(waiting, "no") and waiting.state == "requested"


def test_switched_off_pauses_before_sending_and_switched_on_resumes_with_its_job(effect):
    job = Job.objects.enqueue(Outboxing, key="ob-2")
    SideEffect.objects.filter(pk=effect.pk).update(job=job)
    Job.objects.filter(pk=job.pk).update(state=JobState.DONE)
    Connection.objects.filter(pk=effect.connection_id).update(enabled=False)
    p = Provider()
    done = outbox.perform(SideEffect.objects.get(pk=effect.pk), p.send)
    assert done.state == "paused" and "connection" in done.error and p.received == []
    assert outbox.resume_switched_on() == (0, 0)  # still off
    Connection.objects.filter(pk=effect.connection_id).update(enabled=True)
    assert outbox.resume_switched_on() == (1, 0)
    assert SideEffect.objects.get(pk=effect.pk).state == "requested"
    assert Job.objects.get(pk=job.pk).state == JobState.QUEUED
