"""Job kinds of COD confirmation: the only place that calls both the shop (`opencart`) and a provider (`services`).

shared shop poll → Confirmation → start attempt n = channel plan step n (key stored first) → provider webhook →
apply result → write the outcome to OpenCart (compare-and-set; a status changed in the shop meanwhile wins).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import IntegrityError, transaction

from ocbridge.core import clock
from ocbridge.core.choices import Level
from ocbridge.core.errors import RetryableError, TerminalError, UnknownOutcomeError
from ocbridge.core.jobs import Defer, JobKind, register_job_kind, register_schedule, slot_key
from ocbridge.core.models import Connection, Exchange, Integration, Job
from ocbridge.core.registry import register_order_consumer
from ocbridge.integrations.cod_confirm import mappers, plan, rules, shop
from ocbridge.integrations.cod_confirm.choices import (
    AWAITING,
    OPEN,
    ROBOT_DONE,
    AttemptState,
    Channel,
    ConfirmationState,
    Intent,
)
from ocbridge.integrations.cod_confirm.config import CodConfirmConfig
from ocbridge.integrations.cod_confirm.models import Attempt, ChannelStep, Confirmation
from ocbridge.integrations.cod_confirm.providers import client_class, client_for

log = logging.getLogger(__name__)
KIND = "cod_confirm"


def config_of(integration: Integration) -> CodConfirmConfig:
    return CodConfirmConfig.from_settings(integration.settings)


def _key(c: Confirmation, *parts) -> str:
    return ":".join([KIND, str(c.store_id), str(c.order_id), *map(str, parts)])


# --- finding orders (the shared poll in ocbridge.opencart.jobs calls consider_order) ------------------


@register_order_consumer(KIND)
def consider_order(integration: Integration, order) -> Confirmation | None:
    """Open a Confirmation for a pending COD order (once per order), or do nothing."""
    cfg = config_of(integration)
    store = integration.store
    if not rules.is_cod(order.payment_code, cfg) or order.order_status_id != cfg.pending_status_id:
        return None
    completed = shop.completed_orders(store, order) if cfg.skip_after_completed_orders else 0
    skip = rules.skip_reason(total=order.total, completed_orders=completed, cfg=cfg)
    phone = shop.normalize_phone(order.telephone, store.country)
    try:
        with transaction.atomic():
            c = Confirmation.objects.create(
                store=store, integration=integration, order_id=order.order_id, order_label=store.order_label(order.order_id),
                customer_name=f"{order.firstname} {order.lastname}".strip(), phone_raw=order.telephone or "",
                phone=phone or "", language=shop.language_code(store, order), currency=order.currency_code,
                total=order.total, item_count=order.item_count, payment_code=order.payment_code,
                status_at_start=order.order_status_id, created=clock.now(),
            )
    except IntegrityError:
        return None  # already known: polls overlap on purpose
    if skip:
        c.move(ConfirmationState.SKIPPED, reason=f"not confirmed automatically: {skip}", decided_by="system")
    elif not phone:
        c.move(ConfirmationState.NEEDS_PERSON, reason=f"phone invalid: {order.telephone!r}",
               needs_person_reason="phone invalid")
    else:
        schedule_attempt(c, 1)
    return c


# --- attempts -------------------------------------------------------------------------------------------


def schedule_attempt(c: Confirmation, number: int, *, at_once: bool = False) -> bool:
    """Queue attempt n (plan step n): its `delay_minutes` after the last attempt was made (the first: after the order
    arrived); `at_once` when the last one never reached the customer. False past the plan's end.

    Callers queue step n+1 only when attempt n's answer window has ended, so an attempt that may still be answered
    always blocks the next one.
    """
    due = attempt_due(c, number, at_once=at_once)
    if due is None:
        return False
    c.move(ConfirmationState.SCHEDULED if number == 1 else ConfirmationState.NO_ANSWER,
           reason=f"attempt {number} due {due:%Y-%m-%d %H:%M} UTC", expect=OPEN, next_attempt_at=due)
    Job.objects.enqueue(StartAttempt, key=_key(c, "attempt", number), integration=c.integration, run_at=due,
                        payload={"confirmation_id": c.pk, "number": number, "at_once": at_once})
    return True


def attempt_due(c: Confirmation, number: int, *, at_once: bool = False):
    """When plan step n is due for this order (never in the past); None past the plan's end."""
    step = plan.step_at(c.integration, number)
    if step is None:
        return None
    if at_once:
        return clock.now()
    last = c.attempts.filter(manual=False, number__lt=number).order_by("-number").first()
    base = last.created if last is not None else c.created
    return max(base + timedelta(minutes=step.delay_minutes), clock.now())


def replan_waiting(integration: Integration) -> int:
    """After the calling hours or the channel plan change: move every waiting robot attempt to its new time at once.

    A job held by the old hours would otherwise sleep until the old opening time. Compare-and-set on the job
    (still queued, unclaimed), so one a worker has taken is left alone. Returns how many moved.
    """
    from ocbridge.core.choices import JobState

    cfg = config_of(integration)
    now = clock.now()
    moved = 0
    waiting = (Job.objects.filter(integration=integration, kind=StartAttempt.kind, state=JobState.QUEUED,
                                  claimed_by="").only("pk", "payload", "next_run_at"))
    for job in waiting:
        if job.payload.get("manual"):
            continue  # a person's "call again now" ignores calling hours already
        c = Confirmation.objects.filter(pk=job.payload.get("confirmation_id"), state__in=OPEN).select_related("store").first()
        if c is None:
            continue
        nominal = attempt_due(c, job.payload.get("number", 1), at_once=bool(job.payload.get("at_once"))) or now
        new_at = rules.next_allowed(max(nominal, now), cfg, c.store.timezone) or max(nominal, now)
        if new_at == job.next_run_at:
            continue
        hit = Job.objects.filter(pk=job.pk, state=JobState.QUEUED, claimed_by="").update(
            next_run_at=new_at, dispatched_at=None)
        if hit:
            Confirmation.objects.filter(pk=c.pk, state__in=OPEN).update(next_attempt_at=new_at)
            moved += 1
    return moved


@register_job_kind
class StartAttempt(JobKind):
    """Call or text the customer for attempt n, once: the attempt's key is stored before the provider is asked."""

    kind = "cod_confirm.start_attempt"
    max_attempts = 6

    def run(self, job: Job) -> None:
        c = Confirmation.objects.select_related("integration", "store").get(pk=job.payload["confirmation_id"])
        manual = bool(job.payload.get("manual"))
        if c.state in ROBOT_DONE and not manual:
            return
        cfg = config_of(c.integration)
        if not manual:
            allowed = rules.next_allowed(clock.now(), cfg, c.store.timezone)
            if allowed is None:
                c.move(ConfirmationState.NEEDS_PERSON, reason="no calling hours are set", expect=OPEN)
                return
            wait = (allowed - clock.now()).total_seconds()
            if wait > 1:
                raise Defer(wait, f"outside calling hours; next at {allowed:%Y-%m-%d %H:%M} UTC")
        if not self._still_pending(c):
            return
        start_attempt(c, job.payload["number"], cfg, channel=job.payload.get("channel"), manual_key=job.payload.get("manual"))

    @staticmethod
    def _still_pending(c: Confirmation) -> bool:
        status = shop.order_status(c.store, c.order_id)
        if status == c.status_at_start:
            return True
        c.move(ConfirmationState.RESOLVED_IN_SHOP, expect=OPEN | {"needs_person"}, decided_by="shop",
               reason=f"order status changed in the shop to {status}; nothing sent")
        return False


def _step_for(c: Confirmation, number: int, channel: str | None) -> ChannelStep | None:
    """Plan step n; for a person's "call/text again now", the plan's first step on that channel."""
    if channel:
        return plan.first_step_for(c.integration, channel)
    return plan.step_at(c.integration, number)


def start_attempt(c: Confirmation, number: int, cfg: CodConfirmConfig, *, channel: str | None = None,
                  manual_key: str | None = None) -> Attempt | None:
    step = _step_for(c, number, channel)
    if step is None:
        c.move(ConfirmationState.NEEDS_PERSON, reason=f"the channel plan has no {channel or f'step {number}'}",
               expect=OPEN, needs_person_reason="no usable channel")
        return None
    connection, channel = step.connection, step.channel
    caps = client_class(connection.service).capabilities
    skip = None if manual_key else rules.step_skip_reason(channel, c.phone, cfg)
    if skip is not None:
        next_or_give_up(c, number, reason=f"step {number} ({channel}) skipped: {skip}", at_once=True)
        return None
    if channel == Channel.CALL and not cfg.announcement_id and c.language[:2] not in caps.tts_languages:
        # The robot cannot speak the customer's language: text instead (DESIGN.md: provider capabilities).
        channel = Channel.SMS if caps.can_sms else None
        if channel is None:
            c.move(ConfirmationState.NEEDS_PERSON, reason=f"{connection.service} cannot speak {c.language!r}",
                   expect=OPEN, needs_person_reason="language not spoken")
            return None
    client = client_for(connection)
    key = _key(c, channel, manual_key or number)
    attempt, _ = Attempt.objects.get_or_create(key=key, defaults={
        "confirmation": c, "store_id": c.store_id, "number": number, "channel": channel, "service": connection.service,
        "connection": connection, "manual": bool(manual_key), "created": clock.now()})
    if attempt.state not in (AttemptState.REQUESTED,):
        return attempt  # this attempt already went out (duplicate job): never twice
    shop_name = c.store.name
    if cfg.dry_run:
        Attempt.objects.filter(pk=attempt.pk).update(state=AttemptState.DRY_RUN)
        c.move(ConfirmationState.NEEDS_PERSON, reason=f"dry run: would {channel} {c.phone} (attempt {number})",
               channel=channel, expect=OPEN, needs_person_reason="dry run")
        return attempt
    try:
        if channel == Channel.CALL:
            sent = client.start_confirmation_call(
                to=c.phone, text=mappers.message_for(c, cfg.call_texts, cfg, shop_name),
                digits={"1": "confirm", "2": "cancel", "0": "agent"}, webhook_url=connection.webhook_url("call-result"),
                key=key, language=c.language, caller_id=cfg.caller_id or None,
                announcement_id=cfg.announcement_id or None,
                second_prompt_text=cfg.text(cfg.reconfirm_texts, c.language) if cfg.reconfirm_cancel else None,
                rep_target=cfg.rep_target or None)
        else:
            sent = client.send_sms(to=c.phone, text=mappers.message_for(c, cfg.sms_texts, cfg, shop_name), key=key,
                                   webhook_url=connection.webhook_url("sms"), sender=cfg.sms_sender or None)
    except UnknownOutcomeError as exc:
        # It may have gone out and the provider cannot tell: do not resend now; count it and move on.
        with transaction.atomic():  # one step: a worker killed midway leaves the attempt to be redone whole
            Attempt.objects.filter(pk=attempt.pk).update(state=AttemptState.UNKNOWN)
            c.attempts_made = max(c.attempts_made, number)
            Confirmation.objects.filter(pk=c.pk).update(attempts_made=c.attempts_made)
            after_no_answer(c, attempt, reason=f"attempt {number} outcome unknown ({exc.message}); not resent")
        return attempt
    except TerminalError as exc:
        with transaction.atomic():
            Attempt.objects.filter(pk=attempt.pk).update(state=AttemptState.FAILED)
            refused = f"{connection.service} refused: {exc.message}"
            # The next step on another account may still reach the customer; this account is not asked again.
            later = None if manual_key else _next_step_elsewhere(c, number, connection)
            if later is not None and schedule_attempt(c, later, at_once=True):
                Confirmation.objects.filter(pk=c.pk).update(last_error=str(exc)[:2000])
            else:
                c.move(ConfirmationState.FAILED, reason=refused, channel=channel, expect=OPEN | {"needs_person"},
                       last_error=str(exc)[:2000])
        return attempt
    with transaction.atomic():  # a kill before commit: the retried job finds the stored answer and redoes this
        _record_sent(c, attempt, number, channel, key, sent, step.window_minutes)
    return attempt


def _next_step_elsewhere(c: Confirmation, number: int, connection: Connection) -> int | None:
    return ChannelStep.objects.filter(integration=c.integration, position__gt=number).exclude(
        connection=connection).order_by("position").values_list("position", flat=True).first()


def _record_sent(c: Confirmation, attempt: Attempt, number: int, channel: str, key: str, sent,
                 window_minutes: int) -> None:
    Attempt.objects.filter(pk=attempt.pk).update(state=AttemptState.IN_FLIGHT, provider_id=sent.provider_id)
    Confirmation.objects.filter(pk=c.pk).update(attempts_made=max(c.attempts_made, number))
    exchange = Exchange.objects.filter(key=key).order_by("-id").first()
    c.move(ConfirmationState.CALLING if channel == Channel.CALL else ConfirmationState.SMS_SENT,
           reason=f"attempt {number}: {channel} requested", channel=channel, provider_id=sent.provider_id,
           exchange=exchange, expect=OPEN | {"needs_person"}, next_attempt_at=None)
    wait = clock.now() + timedelta(minutes=window_minutes)
    Job.objects.enqueue(CloseUnanswered, key=f"{key}:timeout", integration=c.integration, run_at=wait,
                        payload={"attempt_id": attempt.pk})


@register_job_kind
class CloseUnanswered(JobKind):
    """An attempt with no result when its answer window ends counts as unanswered (providers may never call back)."""

    kind = "cod_confirm.close_unanswered"

    def run(self, job: Job) -> None:
        attempt = Attempt.objects.select_related("confirmation").get(pk=job.payload["attempt_id"])
        if attempt.state != AttemptState.IN_FLIGHT:
            return
        after_no_answer(attempt.confirmation, attempt, reason=f"no result for attempt {attempt.number} in time")


def after_no_answer(c: Confirmation, attempt: Attempt, *, reason: str, exchange=None, reached: bool = True) -> None:
    """The attempt's window is over: the next plan step after its spacing (at once when the attempt never
    `reached` the customer), or give up the way the owner chose."""
    # One transaction: marking the attempt unanswered is what makes a retried job skip it, so it must not
    # commit without the next attempt (a worker killed in between left the order waiting forever).
    with transaction.atomic():
        _after_no_answer(c, attempt, reason=reason, exchange=exchange, reached=reached)


def _after_no_answer(c: Confirmation, attempt: Attempt, *, reason: str, exchange=None, reached: bool) -> None:
    Attempt.objects.filter(pk=attempt.pk, state__in=[AttemptState.IN_FLIGHT, AttemptState.REQUESTED]).update(
        state=AttemptState.NO_ANSWER)
    c.refresh_from_db()
    if c.state in ROBOT_DONE:
        return
    c.move(ConfirmationState.NO_ANSWER, reason=reason, channel=attempt.channel, provider_id=attempt.provider_id,
           exchange=exchange, expect=OPEN)
    if attempt.manual:
        c.move(ConfirmationState.NEEDS_PERSON, reason="the call or SMS a person asked for got no answer", expect=OPEN,
               needs_person_reason="manual attempt unanswered")
        return
    _next_or_give_up(c, attempt.number, at_once=not reached)


def next_or_give_up(c: Confirmation, number: int, *, reason: str, at_once: bool = False) -> None:
    """Step `number` is done with (or skipped, `reason` says why): queue the next one or give up."""
    with transaction.atomic():
        c.move(c.state, reason=reason, expect=OPEN)
        _next_or_give_up(c, number, at_once=at_once)


def _next_or_give_up(c: Confirmation, number: int, *, at_once: bool) -> None:
    if schedule_attempt(c, number + 1, at_once=at_once):
        return
    cfg = config_of(c.integration)
    if cfg.on_exhausted == "cancel":
        if c.move(ConfirmationState.EXPIRED, reason="attempts used up: cancelling as configured", expect=OPEN,
                  decided_by="system", decided_at=clock.now()):
            enqueue_history(c)
    else:
        c.move(ConfirmationState.NEEDS_PERSON, reason=f"no answer after {c.attempts_made} attempts", expect=OPEN,
               needs_person_reason="attempts used up")


@register_schedule("cod_confirm.inbox", every=60)
def schedule_inbox_reads() -> None:
    """Providers without an inbound push (Netgsm's read-once inbox): read it every minute."""
    steps = ChannelStep.objects.filter(
        integration__kind=KIND, integration__enabled=True, integration__store__enabled=True, connection__enabled=True,
        channel=Channel.SMS).select_related("integration", "connection")
    seen = set()
    for step in steps:
        conn = step.connection
        if conn.pk not in seen and client_class(conn.service).capabilities.inbound_sms == "poll":
            seen.add(conn.pk)
            Job.objects.enqueue(ReadInbox, key=slot_key(f"{KIND}:inbox:{conn.pk}", 60), integration=step.integration,
                                payload={"connection_id": conn.pk})


@register_job_kind
class ReadInbox(JobKind):
    """Fetch inbound SMS once and queue one reply job per message (the inbox hands each message out once;
    the Exchange of the fetch keeps the raw copy)."""

    kind = "cod_confirm.read_inbox"
    max_attempts = 3
    routine = True

    def run(self, job: Job) -> None:
        from dataclasses import asdict

        connection = Connection.objects.filter(pk=job.payload.get("connection_id")).first()
        if connection is None:  # queued before plans named the connection, or deleted: next minute's read does it
            return
        for sms in client_for(connection).fetch_inbound_sms():
            event = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in asdict(sms).items()}
            Job.objects.enqueue(ApplySmsReply, integration=job.integration, payload={"service": connection.service,
                                "connection_id": connection.pk, "event": event}, key=f"{KIND}:{connection.store_id}:{connection.service}-event:"
                                                     f"apply_sms_reply:{sms.event_id}")


# --- answers --------------------------------------------------------------------------------------------


def decide(c: Confirmation, intent: str, *, channel: str, detail: str, exchange=None, user: str = "",
           reason: str = "") -> bool:
    """The customer (or a person) decided: record it, then write it to the shop in its own job."""
    to = ConfirmationState.CONFIRMED if intent == Intent.CONFIRM else ConfirmationState.CANCELLED
    allowed = OPEN | {"needs_person"} | (set(ROBOT_DONE) - {"resolved_in_shop"} if user else set())
    with transaction.atomic():  # decided and queued for OpenCart together, or neither (a killed worker)
        moved = c.move(to, reason=reason or detail, channel=channel, exchange=exchange, user=user, expect=allowed,
                       decided_by="person" if user else "customer", decided_at=clock.now())
        if moved:
            enqueue_history(c)
    return moved


def enqueue_history(c: Confirmation) -> None:
    Job.objects.enqueue(WriteOutcome, key=_key(c, "history", c.state), integration=c.integration,
                        payload={"confirmation_id": c.pk})


@register_job_kind
class ApplyCallResult(JobKind):
    """A provider told us how a confirmation call ended."""

    kind = "cod_confirm.apply_call_result"
    max_attempts = 6

    def run(self, job: Job) -> None:
        ev = job.payload["event"]
        exchange = Exchange.objects.filter(pk=job.payload.get("exchange_id")).first()
        attempt = Attempt.objects.select_related("confirmation__integration").filter(
            service=job.payload["service"], provider_id=ev["provider_id"],
            confirmation__store_id=job.integration.store_id).first()  # a webhook speaks only for its own store
        if attempt is None:
            # The result can overtake our own record of the call (its answer was lost, the retry is pending):
            # wait for it a few times before calling the event unknown.
            _note(exchange, Level.WARNING, f"no attempt with provider id {ev['provider_id']!r} (yet)")
            raise RetryableError(job.payload["service"], "unknown_call", "call not known yet", retry_after=30)
        c = attempt.confirmation
        if attempt.state not in (AttemptState.IN_FLIGHT, AttemptState.REQUESTED, AttemptState.UNKNOWN,
                                 AttemptState.NO_ANSWER) or c.state in ROBOT_DONE:
            _note(exchange, Level.INFO, f"late or repeated result for {c.order_label}: already {c.state}")
            return
        cfg = config_of(c.integration)
        caps = client_class(attempt.service).capabilities
        digits = [str(d) for d in ev.get("digits") or []]
        if digits:
            intent = rules.call_intent(digits, reconfirm=cfg.reconfirm_cancel, second_prompt=caps.second_prompt)
        else:
            intent = {"confirm": Intent.CONFIRM, "cancel": Intent.CANCEL, "agent": Intent.AGENT}.get(ev["outcome"],
                                                                                                     Intent.UNKNOWN)
        pressed = ", ".join(digits) or ev.get("raw_status") or ev["outcome"]
        # One transaction: an 'answered' attempt makes a retried job skip the result, so the attempt must not
        # be marked without the decision (a worker killed in between lost the customer's answer).
        with transaction.atomic():
            Attempt.objects.filter(pk=attempt.pk).update(
                state=AttemptState.ANSWERED if digits else AttemptState.NO_ANSWER, answer=",".join(digits)[:500],
                answered_at=clock.now())
            if intent in (Intent.CONFIRM, Intent.CANCEL):
                decide(c, intent, channel=Channel.CALL, exchange=exchange, detail=f"pressed {pressed}")
            elif intent == Intent.AGENT:
                c.move(ConfirmationState.NEEDS_PERSON, reason="customer pressed 0 for a person", channel=Channel.CALL,
                       exchange=exchange, expect=OPEN, needs_person_reason="asked for a person")
            else:
                after_no_answer(c, attempt, exchange=exchange,
                                reason=f"attempt {attempt.number}: {ev['outcome']} ({pressed})")


@register_job_kind
class ApplySmsReply(JobKind):
    """A customer answered by SMS: match it to their pending order and apply it, or hand it to a person."""

    kind = "cod_confirm.apply_sms_reply"

    def run(self, job: Job) -> None:
        ev = job.payload["event"]
        integration = job.integration
        exchange = Exchange.objects.filter(pk=job.payload.get("exchange_id")).first()
        cfg = config_of(integration)
        phone = shop.normalize_phone(ev["from_number"], integration.store.country)
        intent, order_no = rules.parse_reply(ev["text"])
        pending = list(Confirmation.objects.filter(store=integration.store, phone=phone or "-",
                                                   state__in=OPEN | AWAITING | {"needs_person"}).order_by("-order_id"))
        target = None
        if order_no is not None:
            target = next((c for c in pending if c.order_id == order_no or c.order_label == str(order_no)), None)
        elif len(pending) == 1 or (pending and cfg.several_pending == "latest"):
            target = pending[0]
        if target is None or intent not in (Intent.CONFIRM, Intent.CANCEL):
            why = ("reply not understood" if intent == Intent.UNKNOWN else "reply does not name a pending order"
                   if target is None else "customer asked for a person")
            for c in ([target] if target else pending):
                c.move(ConfirmationState.NEEDS_PERSON, reason=f"{why}: {ev['text'][:200]!r}", channel=Channel.SMS,
                       exchange=exchange, expect=OPEN | AWAITING, needs_person_reason=why)
            _note(exchange, Level.WARNING, f"{why}; sent a polite answer")
            if phone:
                self._polite_answer(integration, job.payload.get("connection_id"), cfg, phone,
                                    target or (pending[0] if pending else None))
            return
        Attempt.objects.filter(confirmation=target, channel=Channel.SMS, state=AttemptState.IN_FLIGHT).update(
            state=AttemptState.ANSWERED, answer=ev["text"][:500], answered_at=clock.now())
        decide(target, intent, channel=Channel.SMS, exchange=exchange, detail=f"replied {ev['text'][:100]!r}")

    @staticmethod
    def _polite_answer(integration, connection_id, cfg, phone, c) -> None:
        """By SMS through the account the reply came in on (else the plan's first SMS step)."""
        connection = Connection.objects.filter(pk=connection_id, store_id=integration.store_id).first()
        if connection is None:
            step = plan.first_step_for(integration, Channel.SMS)
            connection = step.connection if step else None
        if connection is None or not client_class(connection.service).capabilities.can_sms:
            return
        client = client_for(connection)
        label = c.order_label if c else ""
        text = mappers.fill(cfg.text(cfg.unclear_texts, c.language if c else integration.store.language), name="",
                            order_label=label, total=0, currency="", shop=integration.store.name, items=0,
                            with_details=False)
        # Once per order (or per number and day): an auto-responder on the other side must not start a ping-pong.
        about = f"{c.order_id}" if c else f"{phone}:{clock.now():%Y%m%d}"
        client.send_sms(to=phone, text=text, key=f"{KIND}:{integration.store_id}:{about}:polite-reply",
                        sender=cfg.sms_sender or None)


@register_job_kind
class ApplyDeliveryReport(JobKind):
    """An SMS could not be delivered: count the attempt as unanswered (the next one is scheduled)."""

    kind = "cod_confirm.apply_delivery_report"

    def run(self, job: Job) -> None:
        ev = job.payload["event"]
        if ev.get("delivered") is not False:
            return
        attempt = Attempt.objects.select_related("confirmation").filter(
            service=job.payload["service"], provider_id=ev["provider_id"], state=AttemptState.IN_FLIGHT,
            confirmation__store_id=job.integration.store_id).first()
        if attempt is not None:
            after_no_answer(attempt.confirmation, attempt, reason=f"SMS not delivered ({ev.get('status')})",
                            reached=False)


# --- writing the outcome to the shop -------------------------------------------------------------------


@register_job_kind
class WriteOutcome(JobKind):
    """Write the decision to OpenCart as an order-history entry; a status changed in the shop meanwhile wins."""

    kind = "cod_confirm.write_outcome"
    max_attempts = 12
    backoff_max = 1800.0

    def run(self, job: Job) -> None:
        c = Confirmation.objects.select_related("integration", "store").get(pk=job.payload["confirmation_id"])
        cfg = config_of(c.integration)
        channel = c.transitions.exclude(channel="").values_list("channel", flat=True).last() or "dashboard"
        if c.state == ConfirmationState.CONFIRMED:
            target, comment = cfg.confirmed_status_id, cfg.comment_confirmed
        elif c.state in (ConfirmationState.CANCELLED, ConfirmationState.EXPIRED):
            target = cfg.cancelled_status_id
            comment = cfg.comment_cancelled if c.state == ConfirmationState.CANCELLED else cfg.comment_exhausted
        else:
            return
        if c.decided_by == "person":
            channel = "dashboard"
        # A person may overturn a decision already written: then the status we wrote is the one to expect.
        expected = c.history_status_id or c.status_at_start
        if expected == target:
            return
        result = shop.write_status(c.store, c.order_id, expected=expected, new=target,
                                   comment=mappers.history_comment(comment, channel=channel), notify=cfg.notify_customer,
                                   key=job.key)
        if result.written:
            c.__class__.objects.filter(pk=c.pk).update(history_status_id=target, history_written_at=clock.now())
        else:
            c.move(ConfirmationState.RESOLVED_IN_SHOP, expect={c.state}, decided_by="shop",
                   reason=f"order status changed in the shop to {result.current_status}; not overwritten")


def _note(exchange, level: str, text: str) -> None:
    if exchange is not None:
        Exchange.objects.filter(pk=exchange.pk).update(level=level, error=text[:4000])


# --- test messages from the settings page ---------------------------------------------------------------


@register_job_kind
class SendTestMessage(JobKind):
    """A test call or SMS to the owner's own phone, with the store's real texts (sample order values)."""

    kind = "cod_confirm.send_test"
    max_attempts = 3

    def run(self, job: Job) -> None:
        integration = Integration.objects.select_related("store").get(pk=job.integration_id)
        cfg = config_of(integration)
        step = plan.first_step_for(integration, job.payload["channel"])
        if step is None:
            raise TerminalError("cod_confirm", "no_channel", f"the channel plan has no {job.payload['channel']} step")
        connection = step.connection
        client = client_for(connection)
        lang = integration.store.language
        sample = {"name": "Test", "order_label": "TEST", "total": 0, "currency": integration.store.currency,
                  "shop": integration.store.name, "items": 1, "with_details": False}
        phone, channel = job.payload["phone"], job.payload["channel"]
        if channel == Channel.CALL:
            # The result comes back to the call-result hook with a provider id no attempt has: logged as a warning.
            client.start_confirmation_call(to=phone, text=mappers.fill(cfg.text(cfg.call_texts, lang), **sample),
                                           digits={"1": "confirm", "2": "cancel", "0": "agent"},
                                           webhook_url=connection.webhook_url("call-result"), key=job.key,
                                           language=lang, caller_id=cfg.caller_id or None)
        else:
            client.send_sms(to=phone, text=mappers.fill(cfg.text(cfg.sms_texts, lang), **sample), key=job.key,
                            webhook_url=connection.webhook_url("sms"), sender=cfg.sms_sender or None)
