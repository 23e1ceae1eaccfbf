"""The outbox: one row per side effect (call, SMS, message, payment operation, marketplace write), made once.

Every feature that acts on the outside world goes through here (DESIGN.md, "Side effects go through one
outbox"). The row is written before anything is sent; its state moves only by compare-and-set:

    requested ──begin()──▶ sending ──▶ sent      (the provider accepted it; provider id stored)
        │  ▲                  │  └───▶ unknown   (timeout, gateway 5xx, unreadable answer, a lost run)
        ▼  │ resume()         └──────▶ failed    (the provider refused it: its own message kept)
      paused ──cancel()──▶ cancelled             (switched off; withdrawn or handed to a person)
    unknown ──sent()──▶ sent                     (the answer or a late result told us after all)
    sent/unknown ──undelivered()──▶ failed       (a late result: it never reached the recipient)
    sending ──undelivered_unrecorded()──▶ failed (the same, its sender never having recorded the answer)
    sending/unknown ──▶ requested                (resend_absent: its sender's run is over and the provider,
                                                  asked, says it never arrived)

API (all take and return `SideEffect` rows; import `from ocbridge.core import outbox`):

- `request(key, kind=, service=, store=, connection=, integration=)`: the row for `key`, created on first use
  (a repeated key returns the existing row: requesting is idempotent). The current job is stored on it.
- `perform(effect, send, answer_window=, ask=)`: make the side effect once. `send(effect)` does the provider
  call and returns the provider's id (str); pass `effect.correlation` in the provider's echo field (Netgsm
  `relationid`, Verimor campaign name / `custom_id`, Twilio callback URL, APS `merchant_reference`, WhatsApp
  `biz_opaque_callback_data`). Only the run whose `begin()` moved the row requested → sending calls `send`,
  and `begin()` is fenced by the job's claim (core.jobs.fenced). Right before `send` the run confirms, in one
  committed compare-and-set that also renews its claim, that its job still holds the claim and the row is still
  its own in sending: a run frozen (SIGSTOP, a VM or GC pause) between `begin()` and the call, whose job was
  taken over meanwhile, stops without sending (ClaimLost) and puts the row back to requested if nobody else has
  it. Every write after the call is made only while the row is still this run's (`sent_by` = its claim token);
  a run that finds it taken over writes what it saw in `late` (the operator's record of a late duplicate) and
  stops, leaving the new holder's state alone. Left open: a freeze longer than the claim between that check and
  the request reaching the provider — the provider's own repeat handling (our key or correlation number) is
  what stops that one. Errors: TerminalError → failed; a doubtful error (timeout, transport error, HTTP 500/502/504,
  UnknownOutcomeError, an unreadable 2xx: `doubtful(exc)`) → `ask(effect)` the provider if it can be asked
  (returns its id when it has it, None when it says it never arrived, raises ServiceError when it cannot
  tell) → sent / back to requested (the error is raised, the job retries) / unknown; no way to ask →
  unknown: **never resent in doubt**; any other retryable
  error (connection refused, 429, 503) means it was not sent: back to requested and the error is raised so
  the job retries. A row found in `sending` by another run (its sender was lost) is treated as doubtful too.
  Returns the row in its new state; the caller acts on `effect.state`. A row already past sending is
  returned as is (a repeated job), and a row whose store, connection or integration is switched off is
  moved to paused instead (nothing sent).
- `answer_window` (seconds): how long a result may still come after sending (a call's ring time, Netgsm's
  shortest voice-message window, a WhatsApp message's TTL). Stored as `answer_until`; `may_still_answer()`
  tells a feature not to start a new attempt inside it.
- `sent(effect, provider_id)`, `unknown(effect, reason)`, `failed(effect, reason)`: the transitions `perform`
  makes, for features that call the provider themselves. `sent` also applies to an unknown row (a late
  answer or result named it). `by=` (a claim token): only while the row is that run's send.
- `undelivered(effect, reason)`: a late result says a sent (or unknown) side effect never reached the recipient
  (WhatsApp's `failed` status): failed, as if refused — it no longer counts against the store's caps (core.spend
  counts failed rows as free). Only for results the provider does not charge for.
  `undelivered_unrecorded(effect, provider_id, reason)`: the same for a row still 'sending' whose sender will not
  record the provider's answer any more (the caller has waited for it): failed, with the id the result named.
- `match(service, provider_id=, reference=)`: the row a provider's result is about — by its id, or by the
  correlation number (or our key) it echoed (an unknown row has no provider id). None when neither matches.
- `paused_rows(...)`, `resume(effect)`, `cancel(effect, reason)`: switching off and on. Resuming puts the row
  back to requested and re-queues its job; a feature's resume policy (core.outbox.register_resume_policy)
  decides between resume and cancel (e.g. COD: still inside the calling day and answer window → resume;
  older → cancel, and the order goes to the owner's "needs you" list).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import TextField, Value
from django.db.models.functions import Concat
from django.utils.translation import gettext_noop

from ocbridge.core import clock
from ocbridge.core.choices import JobState, SideEffectState
from ocbridge.core.errors import RetryableError, ServiceError, TerminalError, UnknownOutcomeError
from ocbridge.core.jobs import ClaimLost, current_job, fenced, renew
from ocbridge.core.models import Job, SideEffect
from ocbridge.core.sentences import Sentence, said_data, sentence_of, storable

log = logging.getLogger(__name__)

S = SideEffectState
# Why a row was left unknown or paused, said (core.sentences): the pages showing it read it in their own language.
SENDER_LOST = gettext_noop("the run sending it was lost")
OTHER_SENDER = gettext_noop("another run was sending it")
SWITCHED_OFF = {"store": gettext_noop("paused: the store is switched off"),
                "connection": gettext_noop("paused: the connection is switched off"),
                "integration": gettext_noop("paused: the integration is switched off")}
GATEWAY_CODES = frozenset({500, 502, 504})  # the request may have been carried out before the error answer

# Tests set this to play a freeze: called as send_hook(effect) after begin() and before the last check of the claim
# (a worker process stopping itself there with SIGSTOP is what a VM or GC pause does at that point).
send_hook = None


def request(key: str, *, kind: str, service: str, store=None, connection=None, integration=None) -> SideEffect:
    """The outbox row for `key`, created on first use (idempotent)."""
    if not key:
        raise ValueError("a side effect needs an idempotency key")
    job = current_job.get()
    row = SideEffect.objects.filter(key=key).first()
    if row is not None:
        return row
    fields = {"kind": kind, "service": service, "store_id": _pk(store) or getattr(connection, "store_id", None),
              "connection_id": _pk(connection), "integration_id": _pk(integration),
              "job_id": job.pk if job is not None and job.pk else None, "created": clock.now(), "updated": clock.now()}
    for _ in range(3):  # a correlation number drawn twice (1 in 10^11) is drawn again
        try:
            with transaction.atomic():
                return SideEffect.objects.create(key=key, **fields)
        except IntegrityError:
            row = SideEffect.objects.filter(key=key).first()
            if row is not None:  # another run requested the same key first: theirs is the row
                return row
    raise RuntimeError(f"could not store side effect {key}")


def _pk(obj):
    return obj.pk if obj is not None else None


def switched_off(effect: SideEffect) -> str:
    """What of the effect's store, connection or integration is switched off ("" when all are on)."""
    from ocbridge.core.models import Connection, Integration, Store

    if effect.store_id and not Store.objects.filter(pk=effect.store_id, enabled=True).exists():
        return "store"
    if effect.connection_id and not Connection.objects.filter(pk=effect.connection_id, enabled=True).exists():
        return "connection"
    if effect.integration_id and not Integration.objects.filter(pk=effect.integration_id, enabled=True).exists():
        return "integration"
    return ""


def _cas(effect: SideEffect, frm, to: str, *, by: str | None = None, **fields) -> bool:
    """Move the row from one of `frm` to `to` (compare-and-set); refreshes `effect` either way. `by`: only while the
    row is still the send of the run with that claim token (another run may have taken it over)."""
    frm = [frm] if isinstance(frm, str) else list(frm)
    if "error" in fields:  # a new error text without its Sentence leaves no older one behind
        fields.setdefault("error_said", None)
    rows = SideEffect.objects.filter(pk=effect.pk, state__in=frm)
    if by is not None:
        rows = rows.filter(sent_by=by)
    hit = rows.update(state=to, updated=clock.now(), **fields)
    effect.refresh_from_db()
    return bool(hit)


def begin(effect: SideEffect) -> bool:
    """requested → sending, by the running job while it still holds its claim. True: this run sends."""
    job = current_job.get()
    token = job.claim_token if job is not None else ""
    with fenced():
        off = switched_off(effect)
        if off:
            _cas(effect, S.REQUESTED, S.PAUSED, **_error(effect, Sentence(SWITCHED_OFF[off])))
            return False
        return _cas(effect, S.REQUESTED, S.SENDING, sent_by=token or "-")


def sent(effect: SideEffect, provider_id: str, *, answer_window: float = 0.0, by: str | None = None) -> bool:
    """sending/unknown → sent with the provider's id. Fenced by the row's sender (`by`), not by the job claim: a
    provider id is a fact worth keeping from the run that sent it even when its job has moved on, as long as no
    other run has taken the row over."""
    return _cas(effect, (S.SENDING, S.UNKNOWN), S.SENT, by=by, provider_id=str(provider_id)[:128],
                answer_until=effect.answer_until or _window_end(answer_window))


def unknown(effect: SideEffect, reason: str | Sentence, said: Sentence | None = None, *, answer_window: float = 0.0,
            by: str | None = None) -> bool:
    """sending → unknown: it may have gone out. Never resent; a late result is still applied (match()). A Sentence
    (`reason`, or `said` beside an English `reason`) is kept as said: the row's pages read it in their language."""
    return _cas(effect, S.SENDING, S.UNKNOWN, by=by, answer_until=_window_end(answer_window),
                **_error(effect, reason, said))


def failed(effect: SideEffect, reason: str, said: dict | None = None, *, by: str | None = None) -> bool:
    """sending → failed: the provider refused it (`said`: its refusal's Sentence data, core.sentences)."""
    return _cas(effect, S.SENDING, S.FAILED, by=by, error=reason[:2000], error_said=said)


def undelivered(effect: SideEffect, reason: str | Sentence) -> bool:
    """sent/unknown → failed: a late result says it never reached the recipient (its provider id is kept)."""
    return _cas(effect, (S.SENT, S.UNKNOWN), S.FAILED, **_error(effect, reason))


def undelivered_unrecorded(effect: SideEffect, provider_id: str, reason: str | Sentence) -> bool:
    """sending → failed, with the provider id the late result named: the result says it never reached the recipient,
    and the run that sent it never recorded the provider's answer (its run died or hangs). The result is the truth
    about the message, so the row is settled by it, as `undelivered` settles a sent or unknown row. A sender that
    still wakes finds the row failed: its `sent()` misses, and nothing is sent again (failed is final)."""
    return _cas(effect, S.SENDING, S.FAILED, provider_id=str(provider_id)[:128], **_error(effect, reason))


def refusal(effect: SideEffect) -> Sentence | str:
    """A failed side effect's error for the job to raise: as said where it was (the job's row then shows it in each
    reader's language), else its text."""
    return Sentence.from_data(effect.error_said) or effect.error


def _said(effect: SideEffect, exc: Exception) -> dict | None:
    return said_data(exc, _secrets(effect))


def _secrets(effect: SideEffect):
    return effect.connection.secret_values() if effect.connection_id else ()


def _error(effect: SideEffect, reason: str | Sentence, said: Sentence | None = None) -> dict:
    """The row's error fields: the English text, and the data of what was said (`reason` itself when it is a
    Sentence) with secrets masked; None: text only."""
    said = reason if isinstance(reason, Sentence) else said
    text = reason.english() if isinstance(reason, Sentence) else str(reason)
    return {"error": text[:2000], "error_said": storable(said, _secrets(effect)) if said is not None else None}


def _doubt(exc: Exception) -> Sentence | str:
    """A doubtful error as said where it was (without our "service: code" prefix, as a job's row shows it), else its
    text."""
    return sentence_of(exc) or str(exc)


def _window_end(seconds: float):
    return clock.now() + timedelta(seconds=seconds)


def may_still_answer(effect: SideEffect) -> bool:
    """A result may still come (inside its answer window): start no new attempt yet."""
    if effect.state == S.SENDING:
        return True
    return effect.state in (S.SENT, S.UNKNOWN) and effect.answer_until is not None and effect.answer_until > clock.now()


def doubtful(exc: BaseException) -> bool:
    """Whether a failed send may still have been carried out by the provider."""
    if isinstance(exc, UnknownOutcomeError) or getattr(exc, "maybe_sent", False):
        return True
    return isinstance(exc, ServiceError) and exc.code in GATEWAY_CODES


def perform(effect: SideEffect, send: Callable[[SideEffect], str], *, answer_window: float = 0.0,
            ask: Callable[[SideEffect], str | None] | None = None, resend_absent: bool = False) -> SideEffect:
    """Make the side effect once (see the module docstring). Returns the row in its new state.

    `resend_absent` (for providers that take a retry of the same reference, e.g. APS `maintenance_reference`): a
    row left sending or unknown by a run that is over — its claim ended, so it can no longer write — is asked
    about, and when the provider says it never arrived it is sent now under the same key and reference instead of
    staying unknown (asked first, so never blind; without it a killed worker's refund stayed unknown for good)."""
    if resend_absent and ask is not None and effect.state in (S.SENDING, S.UNKNOWN) and sender_over(effect):
        if _settle_doubt(effect, Sentence(SENDER_LOST), answer_window, ask, not_there=S.REQUESTED,
                         frm=(S.SENDING, S.UNKNOWN)).state != S.REQUESTED:
            return effect
    elif effect.state == S.SENDING:  # found mid-send: the run that began it was lost (crash or stall)
        # requested after it: the stalled run woke, found itself fenced out before sending and gave the row back
        if _settle_doubt(effect, Sentence(SENDER_LOST), answer_window, ask).state != S.REQUESTED:
            return effect
    if effect.state != S.REQUESTED or not begin(effect):
        effect.refresh_from_db()
        if effect.state == S.SENDING and effect.sent_by != _token():
            return _settle_doubt(effect, Sentence(OTHER_SENDER), answer_window, ask)
        return effect
    mine = effect.sent_by
    if send_hook is not None:
        send_hook(effect)
    if not _still_ours(effect):  # frozen since begin() and taken over: it surely did not go, so nothing goes
        _cas(effect, S.SENDING, S.REQUESTED, by=mine, sent_by="", error="its run stalled past its claim before sending")
        _late(effect, mine, "stalled past its claim after beginning: stopped before sending, nothing sent")
    try:
        provider_id = send(effect)
    except TerminalError as exc:
        if not failed(effect, str(exc), _said(effect, exc), by=mine):
            _taken_over(effect, mine, f"sent after another run took the row over; refused: {exc}")
        return effect
    except Exception as exc:
        if doubtful(exc):
            _settle_doubt(effect, str(exc), answer_window, ask, not_there=S.REQUESTED, by=mine, said=_doubt(exc))
            if effect.state != S.REQUESTED:
                return effect
            raise  # the provider says it never arrived: the job retries and sends it then
        if isinstance(exc, RetryableError):  # surely not carried out: back to requested, the job retries
            moved = _cas(effect, S.SENDING, S.REQUESTED, by=mine, sent_by="", error=str(exc)[:2000],
                         error_said=_said(effect, exc))
        else:  # a bug of ours, mid-send: it may have gone out
            moved = unknown(effect, Sentence(gettext_noop("error while sending: {detail}"), detail=repr(exc)),
                            answer_window=answer_window, by=mine)
        if not moved:
            _taken_over(effect, mine, f"sent after another run took the row over; failed: {exc}")
        raise
    if not sent(effect, provider_id, answer_window=answer_window, by=mine):
        _taken_over(effect, mine, f"sent after another run took the row over (a late duplicate); the provider "
                                  f"answered {provider_id}")
    return effect


def _still_ours(effect: SideEffect) -> bool:
    """Right before the call, one committed compare-and-set: the running job still holds its claim and the row is
    still its send — and the claim is renewed by it, so the call has a whole claim length before anyone may take the
    job over. Outside a job nothing can take the row over (as core.jobs.fenced)."""
    job = current_job.get()
    if job is None or not job.pk or not job.claim_token:
        return True
    return renew(job, provided=SideEffect.objects.filter(pk=effect.pk, state=S.SENDING, sent_by=job.claim_token))


def _taken_over(effect: SideEffect, mine: str, saw: str) -> None:
    """A write after this run's call missed. Another run has the row now (its sender is not this run): `_late`. Still
    this run's: it was only settled meanwhile (a notice named it), nothing to add."""
    effect.refresh_from_db()
    if effect.sent_by != mine:
        _late(effect, mine, saw)


def _late(effect: SideEffect, mine: str, saw: str) -> None:
    """Keep what a fenced-out run saw on the row for the operator, beside the new holder's state (never over it),
    and stop the run: ClaimLost (the runner writes nothing more for it)."""
    line = f"{clock.now():%Y-%m-%d %H:%M:%S} run {mine[:8] or '-'}: {saw}\n"
    SideEffect.objects.filter(pk=effect.pk).update(late=Concat("late", Value(line), output_field=TextField()))
    effect.refresh_from_db()
    log.warning("side effect %s (%s): %s", effect.pk, effect.kind, saw)
    raise ClaimLost(f"side effect {effect.pk} ({effect.kind}) was taken over: {saw}")


def _token() -> str:
    job = current_job.get()
    return (job.claim_token if job is not None else "") or "-"


def _settle_doubt(effect: SideEffect, reason: str | Sentence, answer_window: float, ask, not_there: str = S.UNKNOWN,
                  frm: tuple = (S.SENDING,), by: str | None = None, said: Sentence | str | None = None) -> SideEffect:
    """Ask the provider if it can be asked: it has it → sent; it says it never arrived → `not_there` (requested
    when the run that sent it is over — this run's own failed send, or a lost run whose claim ended: it may be sent
    again; unknown when another run's send was lost while that run may only be stalled). No answer, or no way to
    ask → unknown. Never a second send in doubt. `by`: this run's own send, written only while the row is still it.
    `reason`: why it is in doubt, in English or said; `said`: beside an English `reason`, the same as said (or the
    provider's own text)."""
    said = reason if isinstance(reason, Sentence) else said
    reason = _english(reason)
    found, answered = None, False
    if ask is not None:
        try:
            found, answered = ask(effect), True
        except ServiceError as exc:
            said = Sentence(gettext_noop("{reason}; asking failed: {error}"), reason=said or reason, error=_doubt(exc))
            reason = f"{reason}; asking failed: {exc}"
    if found:
        moved = sent(effect, found, answer_window=answer_window, by=by)
    elif answered and not_there == S.REQUESTED:
        moved = _cas(effect, frm, S.REQUESTED, by=by, sent_by="", **_error(
            effect, f"{reason}; the provider does not have it",
            Sentence(gettext_noop("{reason}; the provider does not have it"), reason=said or reason)))
    else:
        moved = unknown(effect, reason, said if isinstance(said, Sentence) else None, answer_window=answer_window, by=by)
    if by is not None and not moved:
        _taken_over(effect, by, f"sent after another run took the row over; doubtful: {reason}")
    return effect


def _english(reason: str | Sentence) -> str:
    return reason.english() if isinstance(reason, Sentence) else reason


def sender_over(effect: SideEffect) -> bool:
    """The run that began sending the row is over: no running job holds its claim token any more (it finished, or
    its claim expired and was cleared, which fences it out). A row begun outside a job ("-") cannot tell: False."""
    token = effect.sent_by
    if not token or token == "-":
        return False
    return not Job.objects.filter(state=JobState.RUNNING, claim_token=token).exists()


def match(service: str, *, provider_id: str = "", reference: str | int | None = None) -> SideEffect | None:
    """The outbox row a provider's result speaks of: by provider id, else by what of ours it echoed
    (`reference`: our correlation number, or our key where the provider echoes the key itself)."""
    rows = SideEffect.objects.filter(service=service)
    if provider_id:
        row = rows.filter(provider_id=str(provider_id)).order_by("-id").first()
        if row is not None:
            return row
    text = str(reference or "").strip()
    if not text:
        return None
    if text.isdigit() and len(text) <= 18:
        row = rows.filter(correlation=int(text)).first()
        if row is not None:
            return row
    return rows.filter(key=text).first()


# --- switching off and on ---------------------------------------------------------------------------------

ResumePolicy = Callable[[SideEffect], bool]
_policies: dict[str, ResumePolicy] = {}


def register_resume_policy(kind_prefix: str) -> Callable[[ResumePolicy], ResumePolicy]:
    """Decorator: `fn(effect) -> bool` decides for paused rows whose job kind starts with `kind_prefix` whether
    they are resumed (True) or withdrawn (False; fn has already handed the case to a person)."""

    def deco(fn: ResumePolicy) -> ResumePolicy:
        _policies[kind_prefix] = fn
        return fn

    return deco


def paused_rows():
    return SideEffect.objects.filter(state=S.PAUSED).select_related("job")


def resume(effect: SideEffect) -> bool:
    """paused → requested, and its job queued to run now."""
    with transaction.atomic():
        if not _cas(effect, S.PAUSED, S.REQUESTED, error=""):
            return False
        if effect.job_id:
            Job.objects.filter(pk=effect.job_id, state__in=[JobState.DONE, JobState.FAILED, JobState.QUEUED]).update(
                state=JobState.QUEUED, next_run_at=clock.now(), finished_at=None, dispatched_at=None, last_error="",
                last_error_said=None)
    return True


def cancel(effect: SideEffect, reason: str) -> bool:
    """paused/requested → cancelled: it will not be sent."""
    return _cas(effect, (S.PAUSED, S.REQUESTED), S.CANCELLED, error=reason[:2000])


def resume_switched_on() -> tuple[int, int]:
    """Paused rows whose store, connection and integration are all on again: resume or withdraw each by its
    feature's policy (no policy: resume). Returns (resumed, withdrawn)."""
    resumed = withdrawn = 0
    for effect in paused_rows():
        if switched_off(effect):
            continue
        kind = effect.job.kind if effect.job is not None else ""
        policy = next((fn for prefix, fn in _policies.items() if kind.startswith(prefix)), None)
        if policy is None or policy(effect):
            resumed += resume(effect)
        else:
            withdrawn += 1
    return resumed, withdrawn
