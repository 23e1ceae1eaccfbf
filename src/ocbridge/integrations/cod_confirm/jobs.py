"""Job kinds of COD confirmation: the only place that calls both the shop (`opencart`) and a provider (`services`).

shared shop poll → Confirmation → start attempt n = channel plan step n (key stored first) → provider webhook →
apply result → write the outcome to OpenCart (compare-and-set; a status changed in the shop meanwhile wins).
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from django.db import IntegrityError, OperationalError, transaction
from django.utils.translation import gettext_lazy, gettext_noop

from ocbridge.core import clock, optouts, outbox, polls, spend
from ocbridge.core.choices import Level, OptOutScope, OptOutSource, SideEffectState
from ocbridge.core.errors import RetryableError, TerminalError
from ocbridge.core.exchanges import inbound_of
from ocbridge.core.jobkinds import about_order
from ocbridge.core.jobs import Defer, JobKind, fenced, register_job_kind
from ocbridge.core.polls import Target, register_poll
from ocbridge.core.models import Connection, Exchange, Integration, Job, SideEffect
from ocbridge.core.registry import (
    register_feed_reader,
    register_history_consumer,
    register_missed_orders,
    register_order_consumer,
)
from ocbridge.core.sentences import Sentence
from ocbridge.integrations.cod_confirm import mappers, outcomes, pay, plan, risk, routing, rules, shop, whatsapp
from ocbridge.integrations.cod_confirm.choices import (
    AWAITING,
    OPEN,
    ROBOT_DONE,
    REACHED,
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


# --- finding orders (the shared poll in ocbridge.opencart.polling calls consider_order) ---------------


@register_order_consumer(KIND)
def consider_order(integration: Integration, order) -> Confirmation | None:
    """Open a Confirmation for a pending COD order (once per order), or do nothing."""
    c = _open_case(integration, order)
    if c is None:
        return None
    cfg = config_of(integration)
    store = integration.store
    completed = _completed_orders(integration, order, cfg)
    skip = rules.skip_reason(total=order.total, completed_orders=completed, cfg=cfg)
    phone = c.phone
    action, why = "", None
    if phone:
        score = risk.lookup(store, phone)
        if score.known:
            action, why = risk.apply_rules(score, cfg, skip=skip)
            if action == "confirm":
                c.move(c.state, reason=f"risk score {score.value} is above {cfg.risk_confirm_above} ({score.reason}): "
                                       f"confirming although {skip}")
            skip = why if action in ("skip", "") else None
    if action == "hold":  # never an automatic cancel: a person looks at it
        c.move(ConfirmationState.NEEDS_PERSON, reason=f"held for a person: {why}", needs_person_reason="risk score")
    elif skip:
        c.move(ConfirmationState.SKIPPED, reason=f"not confirmed automatically: {skip}", decided_by="system")
    elif not phone:
        c.move(ConfirmationState.NEEDS_PERSON, reason=f"phone invalid: {order.telephone!r}",
               needs_person_reason="phone invalid")
    else:
        schedule_attempt(c, 1)
    return c


MISSED_WINDOW = timedelta(hours=24)


@register_missed_orders(KIND)
def missed_order(integration: Integration, order) -> Confirmation | None:
    """A COD order that arrived while confirmation was switched off: never a late surprise call. Still Pending and
    under 24 h old → the owner's "needs you" list; older ones are left to the shop."""
    placed = shop.placed_at(integration.store, order, shop.prepared().get("zone"))
    if placed is not None and clock.now() - placed > MISSED_WINDOW:
        return None
    c = _open_case(integration, order)
    if c is not None:
        c.move(ConfirmationState.NEEDS_PERSON, reason="arrived while COD confirmation was switched off",
               needs_person_reason="arrived while switched off")
    return c


@register_history_consumer(KIND)
def on_history(integration: Integration, events, *, missed: bool) -> None:
    """The shop's own status changes, one poll after they happen: an open case whose order the shop moved is closed
    as decided in the shop; an order that reached Pending late (status 0 for longer than the poll follows it, or
    moved by a payment callback) is considered now; a later refusal, return, delivery or cancel in the shop (the
    owner's status mapping) is counted for the phone's risk score (outcomes.py) — also rows that came while
    confirmation was switched off: they are facts about the customer, not calls to make."""
    cfg = config_of(integration)
    outcomes.record_events(integration, events, cfg)
    latest = {e.order_id: e for e in events}
    waiting = OPEN | {ConfirmationState.NEEDS_PERSON, ConfirmationState.AWAITING_PAYMENT}
    for c in Confirmation.objects.filter(integration=integration, order_id__in=list(latest), state__in=waiting):
        e = latest[c.order_id]
        if e.order_status_id != c.status_at_start:  # we never write while a case is open: the shop did
            c.move(ConfirmationState.RESOLVED_IN_SHOP, expect=waiting,
                   decided_by="shop", reason=f"order status changed in the shop to {e.order_status_id}; nothing sent")
    late = _reached_pending_late(integration, latest, cfg)
    ahead = shop.prepared()  # read before the feed's hub transaction (read_ahead)
    asked = ahead.get("late_asked", ())
    found = {oid: ahead["late"][oid] for oid in late if oid in ahead.get("late", {})}
    found.update((o.order_id, o) for o in shop.read_orders(integration.store, [oid for oid in late if oid not in asked]))
    for oid in sorted(found):
        (missed_order if missed else consider_order)(integration, found[oid])


def _reached_pending_late(integration: Integration, latest: dict, cfg: CodConfirmConfig) -> list[int]:
    """Of the orders' latest history rows (order id → row), the orders now at Pending that have no case yet. The feed's
    reader asks before the hub transaction (to read them from the shop there); on_history asks again inside it, where
    a case opened meanwhile counts."""
    known = set(Confirmation.objects.filter(integration=integration, order_id__in=list(latest))
                .values_list("order_id", flat=True))
    return [oid for oid, e in latest.items() if oid not in known and e.order_status_id == cfg.pending_status_id]


@register_feed_reader(KIND)
def read_ahead(integration: Integration, *, orders=(), events=(), missed: bool = False) -> dict:
    """The shop reads the feed handlers above need, made by the feed before its hub transaction (on SQLite the
    hub's write lock, which every other writer waits for while a slow shop answers): the orders the history rows show
    reaching Pending late ("late": order id → order), and each COD order's count of the customer's completed
    orders when the owner skips repeat customers ("completed": order id → count). Hub reads only otherwise."""
    cfg = config_of(integration)
    out: dict = {}
    if events or missed:  # read here, not in the hub transaction: history dates (outcomes) and missed orders' age
        out["zone"] = shop.write_zone(integration.store)
    if events:
        late = _reached_pending_late(integration, {e.order_id: e for e in events}, cfg)
        out["late"] = {o.order_id: o for o in shop.read_orders(integration.store, late)}
        out["late_asked"] = set(late)  # those not in "late" are not in the shop
        orders = list(out["late"].values())
    if cfg.skip_after_completed_orders and not missed:  # orders missed while off are not called: no count needed
        out["completed"] = {o.order_id: shop.completed_orders(integration.store, o) for o in orders
                            if rules.is_cod(o.payment_code, cfg) and o.order_status_id == cfg.pending_status_id}
    return out


def _completed_orders(integration: Integration, order, cfg: CodConfirmConfig) -> int:
    """The customer's completed orders (0 when the owner does not skip repeat customers): as the feed's reader read
    them before its transaction, else read now (a handler called outside a handover)."""
    if not cfg.skip_after_completed_orders:
        return 0
    ahead = shop.prepared().get("completed", {})
    if order.order_id in ahead:
        return ahead[order.order_id]
    return shop.completed_orders(integration.store, order)


def _open_case(integration: Integration, order) -> Confirmation | None:
    """The Confirmation of a pending COD order, created once (None: not ours, or already known)."""
    cfg = config_of(integration)
    store = integration.store
    if not rules.is_cod(order.payment_code, cfg) or order.order_status_id != cfg.pending_status_id:
        return None
    phone = shop.normalize_phone(order.telephone, store.country, getattr(order, "countries", ()))
    try:
        with transaction.atomic():
            return Confirmation.objects.create(
                store=store, integration=integration, order_id=order.order_id, order_label=store.order_label(order.order_id),
                customer_name=f"{order.firstname} {order.lastname}".strip(), phone_raw=order.telephone or "",
                phone=phone or "", language=shop.language_code(store, order), currency=order.currency_code,
                total=order.total, item_count=order.item_count, payment_code=order.payment_code,
                status_at_start=order.order_status_id, created=clock.now(),
            )
    except IntegrityError:
        return None  # already known: polls overlap on purpose


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
        new_at = rules.next_allowed(max(nominal, now), cfg, c.store.zone) or max(nominal, now)
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
        about_order(c.order_id)
        manual = bool(job.payload.get("manual"))
        if c.state in ROBOT_DONE and not manual:
            return
        cfg = config_of(c.integration)
        if not manual:
            allowed = rules.next_allowed(clock.now(), cfg, c.store.zone)
            if allowed is None:
                c.move(ConfirmationState.NEEDS_PERSON, reason="no calling hours are set", expect=OPEN)
                return
            wait = (allowed - clock.now()).total_seconds()
            if wait > 1:
                raise Defer(wait, Sentence(gettext_noop("outside calling hours; next at {at} UTC"),
                                           at=f"{allowed:%Y-%m-%d %H:%M}"))
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
    live = _live_attempt(c, number)
    if live is not None:  # one attempt at a time: a manual "call again" next to a due attempt is one attempt
        if not manual_key:  # a due attempt waits for the live one's window to end
            raise Defer(60, Sentence(gettext_noop("attempt {n} may still be answered"), n=live.number))
        c.move(c.state, reason=f"attempt {live.number} may still be answered; no second call or SMS now",
               expect=OPEN | {"needs_person"})
        return live
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
    if _opted_out(c, number, channel, manual=bool(manual_key)):
        return None
    # The key names the attempt number, not the channel or who asked: a due attempt and a person's "call again"
    # with the same number are one Attempt row and one outbox row, so one call.
    key = _key(c, "attempt", number)
    attempt, _ = Attempt.objects.get_or_create(key=key, defaults={
        "confirmation": c, "store_id": c.store_id, "number": number, "channel": channel, "service": connection.service,
        "connection": connection, "manual": bool(manual_key), "created": clock.now()})
    if attempt.state not in (AttemptState.REQUESTED,):
        return attempt  # this attempt already went out (duplicate job): never twice
    if cfg.dry_run:
        Attempt.objects.filter(pk=attempt.pk).update(state=AttemptState.DRY_RUN)
        c.move(ConfirmationState.NEEDS_PERSON, reason=f"dry run: would {attempt.channel} {c.phone} (attempt {number})",
               channel=attempt.channel, expect=OPEN, needs_person_reason="dry run")
        return attempt
    effect, over_cap = spend.request(key, kind=attempt.channel, service=attempt.service, store=c.store,
                                     connection=attempt.connection, integration=c.integration)
    if effect is None:  # the store's daily cap: a person takes over, nothing is dropped
        Attempt.objects.filter(pk=attempt.pk, state=AttemptState.REQUESTED).update(state=AttemptState.OVER_CAP)
        c.move(ConfirmationState.NEEDS_PERSON, expect=OPEN | {"needs_person"}, needs_person_reason="daily cap reached",
               reason=f"attempt {number} ({attempt.channel}) not made: the store's daily cap is reached ({over_cap})")
        return attempt
    client = client_for(attempt.connection)  # the attempt's own: a repeated job keeps its first step's account
    window = max(step.window_minutes * 60.0, client.capabilities.answer_window if attempt.channel == Channel.CALL else 0.0)
    effect = outbox.perform(effect, lambda e: _send(client, c, cfg, attempt, e), answer_window=window,
                            ask=getattr(client, "find_sent", None) and (lambda e: client.find_sent(attempt.channel, e)))
    record_effect(c, attempt, effect, manual=bool(manual_key))
    return attempt


def _opted_out(c: Confirmation, number: int, channel: str, *, manual: bool) -> bool:
    """The number is on the do-not-call/do-not-text list for this channel: skip to a later step on a channel it
    still accepts, else a person takes over. Never a silent drop."""
    row = optouts.blocked(c.store, c.phone, channel)
    if row is None:
        return False
    later = [s for s in plan.steps(c.integration) if s.position > number and not optouts.covers(row.scope, s.channel)]
    if later and not manual:
        next_or_give_up(c, number, reason=f"step {number} ({channel}) skipped: the number is on the do-not-contact "
                                          f"list", at_once=True)
        return True
    c.move(ConfirmationState.NEEDS_PERSON, expect=OPEN | {"needs_person"}, needs_person_reason="opted out",
           reason=f"attempt {number} ({channel}) not made: the number is on the do-not-contact list")
    return True


def _live_attempt(c: Confirmation, number: int) -> Attempt | None:
    """Another attempt of this case that may still be answered (waiting, unknown inside its window, sending)."""
    for other in c.attempts.exclude(number=number).filter(
            state__in=[AttemptState.IN_FLIGHT, AttemptState.UNKNOWN, AttemptState.REQUESTED]):
        if other.state == AttemptState.IN_FLIGHT:
            return other
        effect = SideEffect.objects.filter(key=other.key).first()
        if effect is not None and outbox.may_still_answer(effect):
            return other
    return None


def _send(client, c: Confirmation, cfg: CodConfirmConfig, attempt: Attempt, effect: SideEffect) -> str:
    """The provider call of one attempt; our correlation number rides in the field the provider echoes."""
    connection = attempt.connection
    if attempt.channel == Channel.CALL:
        return client.start_confirmation_call(
            to=c.phone, text=_with_pay_offer(mappers.message_for(c, cfg.call_texts, cfg, c.store.name), cfg,
                                             cfg.pay_call_texts, c.language),
            digits=call_digits(cfg), webhook_url=connection.webhook_url("call-result"),
            key=attempt.key, reference=str(effect.correlation), language=c.language, caller_id=cfg.caller_id or None,
            announcement_id=cfg.announcement_id or None,
            second_prompt_text=cfg.text(cfg.reconfirm_texts, c.language) if cfg.reconfirm_cancel else None,
            rep_target=cfg.rep_target or None).provider_id
    if attempt.channel == Channel.WHATSAPP:
        step = plan.step_at(c.integration, attempt.number) or plan.first_step_for(c.integration, Channel.WHATSAPP)
        return whatsapp.send_confirmation(client, c, key=attempt.key, reference=str(effect.correlation),
                                          window_minutes=step.window_minutes if step else 60).provider_id
    return client.send_sms(to=c.phone, text=_with_pay_offer(mappers.message_for(c, cfg.sms_texts, cfg, c.store.name),
                                                            cfg, cfg.pay_sms_texts, c.language), key=attempt.key,
                           reference=str(effect.correlation), webhook_url=connection.webhook_url("sms"),
                           sender=cfg.sms_sender or None).provider_id


def call_digits(cfg: CodConfirmConfig) -> dict[str, str]:
    digits = {"1": "confirm", "2": "cancel", "0": "agent"}
    return {**digits, "3": "pay"} if cfg.pay_offer else digits


def _with_pay_offer(text: str, cfg: CodConfirmConfig, offer: dict[str, str], language: str) -> str:
    """The call or SMS text, with the "pay now by card" sentence only when the store offers it."""
    return f"{text} {cfg.text(offer, language)}".strip() if cfg.pay_offer else text


# A message the provider took and later reported undelivered, recorded by its sender only afterwards (record_effect).
UNDELIVERED = gettext_noop("attempt {n}: {service} reported it undelivered ({detail})")
# The plan is used up and none of its attempts reached the customer (_next_or_give_up).
UNDELIVERED_LAST = gettext_noop("attempt {n}: {service} reported it undelivered; no step left")
NOTHING_SENT = gettext_noop("no step could be sent to the customer")
STATE_AFTER_SENDING = {Channel.CALL: ConfirmationState.CALLING, Channel.SMS: ConfirmationState.SMS_SENT,
                       Channel.WHATSAPP: ConfirmationState.WHATSAPP_SENT}


def record_effect(c: Confirmation, attempt: Attempt, effect: SideEffect, *, manual: bool = False) -> None:
    """Carry the outbox row's state onto the attempt and the case (repeatable: a retried job redoes it)."""
    number, channel, S = attempt.number, attempt.channel, SideEffectState
    if effect.state == S.PAUSED:
        c.move(c.state, reason=f"attempt {number} paused before sending: {effect.error}", channel=channel,
               expect=OPEN | {"needs_person"}, said=Sentence(gettext_noop("attempt {n} paused before sending ({detail})"),
                                                              n=number, detail=outbox.refusal(effect)))
        return
    if effect.state == S.FAILED and effect.provider_id:
        # Taken by the provider, then a late result said it never arrived (WhatsApp's failed status settled the row
        # while this attempt's sender was lost before recording it): a failed delivery, not a refusal — the next
        # step at once, as when the sender had recorded it (cod_confirm.whatsapp_events.apply_status).
        undelivered_unrecorded(c, attempt, reason=f"attempt {number}: {effect.service} reported it undelivered "
                                                  f"({effect.error[:200]})",
                               said=Sentence(UNDELIVERED, n=number, service=effect.service,
                                             detail=outbox.refusal(effect)))
        return
    if effect.state == S.FAILED:
        with fenced():
            if not Attempt.objects.filter(pk=attempt.pk, state=AttemptState.REQUESTED).update(state=AttemptState.FAILED):
                return
            # The next step on another account may still reach the customer; this account is not asked again.
            later = None if manual else _next_step_elsewhere(c, number, attempt.connection)
            if later is not None and schedule_attempt(c, later, at_once=True):
                Confirmation.objects.filter(pk=c.pk).update(last_error=effect.error[:2000],
                                                            last_error_said=effect.error_said)
            else:
                c.move(ConfirmationState.FAILED, reason=f"{effect.service} refused: {effect.error}", channel=channel,
                       expect=OPEN | {"needs_person"}, last_error=effect.error[:2000],
                       last_error_said=effect.error_said, said=Sentence(
                           gettext_noop("{service} refused: {detail}"), service=effect.service,
                           detail=outbox.refusal(effect)))
        return
    if effect.state not in (S.SENT, S.UNKNOWN):
        return
    sent = effect.state == S.SENT
    with fenced():  # a kill before commit: the retried job finds the outbox row and redoes this
        hit = Attempt.objects.filter(pk=attempt.pk, state=AttemptState.REQUESTED).update(
            state=AttemptState.IN_FLIGHT if sent else AttemptState.UNKNOWN, provider_id=effect.provider_id)
        if not hit:
            return
        Confirmation.objects.filter(pk=c.pk, attempts_made__lt=number).update(attempts_made=number)
        exchange = Exchange.objects.keyed(attempt.key).order_by("-id").first()
        reason = (f"attempt {number}: {channel} requested" if sent else
                  f"attempt {number} outcome unknown ({effect.error[:200]}); not resent")
        # the outbox row's reason as said (its own words, or the provider's, kept as they are)
        said = None if sent else Sentence(gettext_noop("attempt {n}: outcome unknown ({detail}); not sent again"),
                                          n=number, detail=outbox.refusal(effect))
        c.move(STATE_AFTER_SENDING[channel], reason=reason, said=said,
               channel=channel, provider_id=effect.provider_id, exchange=exchange, expect=OPEN | {"needs_person"},
               next_attempt_at=None)
        # No next attempt while this one may still be answered: its answer window (plan step and provider).
        wait = max(effect.answer_until or clock.now(), clock.now())
        Job.objects.enqueue(CloseUnanswered, key=f"{attempt.key}:timeout", integration=c.integration, run_at=wait,
                            payload={"attempt_id": attempt.pk})


def _next_step_elsewhere(c: Confirmation, number: int, connection: Connection) -> int | None:
    return ChannelStep.objects.filter(integration=c.integration, position__gt=number).exclude(
        connection=connection).order_by("position").values_list("position", flat=True).first()


@register_job_kind
class CloseUnanswered(JobKind):
    """An attempt with no result when its answer window ends counts as unanswered (providers may never call back)."""

    kind = "cod_confirm.close_unanswered"

    def run(self, job: Job) -> None:
        attempt = Attempt.objects.select_related("confirmation").get(pk=job.payload["attempt_id"])
        if attempt.state not in (AttemptState.IN_FLIGHT, AttemptState.UNKNOWN):
            return
        after_no_answer(attempt.confirmation, attempt, reason=f"no result for attempt {attempt.number} in time")


def undelivered_unrecorded(c: Confirmation, attempt: Attempt, *, reason: str, exchange=None,
                           said: Sentence | None = None) -> None:
    """The provider took the attempt's message, then reported it undelivered, while the attempt was still
    'requested' (its sender was lost before recording it): it was made (counted as record_effect counts it) and never
    reached the customer — the next step at once. Repeatable: the attempt moves once."""
    if attempt.state != AttemptState.REQUESTED:
        return
    Confirmation.objects.filter(pk=c.pk, attempts_made__lt=attempt.number).update(attempts_made=attempt.number)
    after_no_answer(c, attempt, reason=reason, exchange=exchange, reached=False, said=said)


def after_no_answer(c: Confirmation, attempt: Attempt, *, reason: str, exchange=None, reached: bool = True,
                    closed: bool = False, said: Sentence | None = None) -> None:
    """The attempt's window is over: the next plan step after its spacing (at once when the attempt never
    `reached` the customer), or give up the way the owner chose. `closed`: the caller has already closed the
    attempt in this transaction (an answer that decided nothing)."""
    # One transaction: marking the attempt unanswered is what makes a retried job skip it, so it must not
    # commit without the next attempt (a worker killed in between left the order waiting forever).
    with fenced():
        _after_no_answer(c, attempt, reason=reason, exchange=exchange, reached=reached, closed=closed, said=said)


def _after_no_answer(c: Confirmation, attempt: Attempt, *, reason: str, exchange=None, reached: bool,
                     closed: bool, said: Sentence | None = None) -> None:
    # Compare-and-set on the attempt: a repeated or late "no answer" (the attempt already closed) moves nothing.
    if not closed and not Attempt.objects.filter(pk=attempt.pk, state__in=[
            AttemptState.IN_FLIGHT, AttemptState.REQUESTED, AttemptState.UNKNOWN]).update(
                state=AttemptState.NO_ANSWER if reached else AttemptState.UNDELIVERED):
        return
    c.refresh_from_db()
    if c.state in ROBOT_DONE or attempt.number < c.attempts_made:
        return  # an older attempt's late "no answer" while a newer one is under way: the newer one decides
    c.move(ConfirmationState.NO_ANSWER, reason=reason, channel=attempt.channel, provider_id=attempt.provider_id,
           exchange=exchange, expect=OPEN, said=said)
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
    # "Unanswered" marks the phone in every store that shares (risk.py) only when an attempt reached the customer
    # and went unanswered: messages they never received say nothing about them, whatever the later steps did
    # (skipped for the region, an opt-out, ...).
    reached = c.attempts.filter(state__in=REACHED).exists()
    undelivered = None if reached else c.attempts.filter(state=AttemptState.UNDELIVERED).last()
    if reached:
        risk.record(c.store, c.phone, "unanswered")
    cfg = config_of(c.integration)
    if cfg.on_exhausted == "cancel":
        if c.move(ConfirmationState.EXPIRED, reason="attempts used up: cancelling as configured", expect=OPEN,
                  decided_by="system", decided_at=clock.now()):
            enqueue_history(c)
    elif undelivered is not None:
        said = Sentence(UNDELIVERED_LAST, n=undelivered.number, service=undelivered.service)
        c.move(ConfirmationState.NEEDS_PERSON, expect=OPEN, needs_person_reason="undelivered", reason=said.english(),
               said=said)
    elif c.attempts_made == 0:  # every step skipped (region, opt-out) or refused: nobody was asked
        said = Sentence(NOTHING_SENT)
        c.move(ConfirmationState.NEEDS_PERSON, expect=OPEN, needs_person_reason="could not be sent",
               reason=said.english(), said=said)
    else:
        c.move(ConfirmationState.NEEDS_PERSON, reason=f"no answer after {c.attempts_made} attempts", expect=OPEN,
               needs_person_reason="attempts used up")


INBOX_POLL = "cod_confirm.inbox"
INBOX_EVERY = 60.0
STORE_TRIES = 5  # a locked hub database: read messages exist only in memory now, so try harder than once


def _inbox_steps():
    return ChannelStep.objects.filter(
        integration__kind=KIND, integration__enabled=True, integration__store__enabled=True, connection__enabled=True,
        channel=Channel.SMS).order_by("connection_id", "integration_id")


def inbox_targets() -> list[Target]:
    """One target per connection an SMS step uses whose provider has no inbound push (Netgsm's read-once inbox)."""
    targets: dict[int, Target] = {}
    for step in _inbox_steps().select_related("connection"):
        conn = step.connection
        if conn.pk not in targets and client_class(conn.service).capabilities.inbound_sms == "poll":
            targets[conn.pk] = Target(key=f"connection-{conn.pk}", every=INBOX_EVERY, store_id=conn.store_id)
    return list(targets.values())


@register_poll(INBOX_POLL, targets=inbox_targets, label=gettext_lazy("Reading customers' SMS replies from the provider's inbox"))
def poll_inbox(target: Target) -> bool:
    """A routine poll (core.polls, no Job row): an empty inbox writes nothing to the hub.

    Netgsm's inbox hands each message out once. The time of the read is noted in the lease store before it happens
    (core.polls.remember) and forgotten once what it returned is stored: one ApplySmsReply job per message, all in
    one commit, before anything else. A poll that died (or could not commit) between the read and the store leaves
    the note, and the next poll asks for that time range again (a ranged read lists messages whether read or not)
    instead of the emptied inbox. Message keys make the overlap harmless. The Exchange of a read that found
    messages keeps the raw copy too."""
    step = _inbox_steps().filter(connection_id=int(target.key.removeprefix("connection-"))).select_related(
        "integration", "connection").first()
    if step is None:  # switched off or deleted since the targets were listed
        return False
    connection = step.connection
    client = client_for(connection)
    read_at = polls.remembered(INBOX_POLL, target.key)
    if read_at:  # an earlier poll read the inbox and did not store what it got: read its time range again
        since = datetime.fromisoformat(read_at) - timedelta(minutes=2)
        messages = client.fetch_inbound_sms(start=since, stop=clock.now() + timedelta(minutes=1))
    else:
        read_at = clock.now().isoformat()
        polls.remember(INBOX_POLL, target.key, read_at)
        messages = client.fetch_inbound_sms()
    if messages:
        store_replies(step.integration, connection, messages)
    if polls.remembered(INBOX_POLL, target.key) == read_at:  # another dispatcher's newer read (a slow slot) keeps its own
        polls.remember(INBOX_POLL, target.key, None)
    return bool(messages)


def store_replies(integration: Integration, connection: Connection, messages) -> None:
    """One ApplySmsReply job per message (keyed by the provider's message id), all in one commit."""
    from dataclasses import asdict

    for tries in range(1, STORE_TRIES + 1):
        try:
            with transaction.atomic():  # every message's job, or none
                for sms in messages:
                    event = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in asdict(sms).items()}
                    Job.objects.enqueue(ApplySmsReply, integration=integration, payload={
                        "service": connection.service, "connection_id": connection.pk, "event": event},
                        key=f"{KIND}:{connection.store_id}:{connection.service}-event:apply_sms_reply:{sms.event_id}")
            return
        except OperationalError:
            if tries == STORE_TRIES:
                raise  # the note stays: the next poll reads the same range again
            time.sleep(tries)


@register_job_kind
class ReadInbox(JobKind):
    """Inbox reads queued before they became a routine poll (an upgraded hub): one poll of the connection now, and a
    read a dead run made (its time on the job) is read again by range."""

    kind = "cod_confirm.read_inbox"
    routine = True

    def run(self, job: Job) -> None:
        key = f"connection-{job.payload.get('connection_id')}"
        if job.payload.get("read_at") and not polls.remembered(INBOX_POLL, key):
            polls.remember(INBOX_POLL, key, job.payload["read_at"])
        polls.run_one(INBOX_POLL, key)


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
            if not user:  # the customer's own answer feeds the phone's history (a person's override does not)
                risk.record(c.store, c.phone, "confirmed" if to == ConfirmationState.CONFIRMED else "cancelled")
    return moved


DECIDED = (ConfirmationState.CONFIRMED, ConfirmationState.CANCELLED, ConfirmationState.EXPIRED)


def _last_decision(c: Confirmation) -> int | None:
    return c.transitions.filter(to_state__in=DECIDED).order_by("-pk").values_list("pk", flat=True).first()


def enqueue_history(c: Confirmation) -> None:
    """Each decision gets its own shop write (keyed by its transition): a decision overturned and overturned
    again is written again, never taken for the first one already done."""
    decision = _last_decision(c)
    Job.objects.enqueue(WriteOutcome, key=_key(c, "history", c.state, decision), integration=c.integration,
                        payload={"confirmation_id": c.pk, "decision": decision})


def attempt_for(job: Job, ev: dict) -> Attempt | None:
    """The attempt a provider's result speaks of: by its provider id, or by our reference it echoed (an attempt
    whose send ended "unknown" has no provider id). Only within the stores the webhook's account serves."""
    effect = outbox.match(job.payload["service"], provider_id=ev.get("provider_id") or "",
                          reference=ev.get("reference") or "")
    keys = [effect.key] if effect is not None else []
    stores = routing.served(job.payload.get("connection_id")) or [job.integration.store_id]  # a shared account's too
    q = Attempt.objects.select_related("confirmation__integration").filter(confirmation__store_id__in=stores)
    attempt = q.filter(key__in=keys).first() if keys else None
    if attempt is None and ev.get("provider_id"):  # attempts made before the outbox existed
        attempt = q.filter(service=job.payload["service"], provider_id=ev["provider_id"]).first()
    if attempt is not None and effect is not None and ev.get("provider_id") and not effect.provider_id:
        outbox.sent(effect, ev["provider_id"])  # an unknown send named by its result: it did go out
        Attempt.objects.filter(pk=attempt.pk, provider_id="").update(provider_id=ev["provider_id"])
    return attempt


@register_job_kind
class ApplyCallResult(JobKind):
    """A provider told us how a confirmation call ended."""

    kind = "cod_confirm.apply_call_result"
    max_attempts = 6

    def run(self, job: Job) -> None:
        ev = job.payload["event"]
        exchange = inbound_of(job)
        attempt = attempt_for(job, ev)
        if attempt is None:
            # The result can overtake our own record of the call (its answer was lost, the retry is pending):
            # wait for it a few times before calling the event unknown.
            _note(exchange, Level.WARNING, f"no attempt with provider id {ev['provider_id']!r} (yet)")
            raise RetryableError(job.payload["service"], "unknown_call", "call not known yet", retry_after=30)
        c = attempt.confirmation
        about_order(c.order_id, exchange=exchange)
        routing.claim(exchange, c.store_id)
        cfg = config_of(c.integration)
        caps = client_class(attempt.service).capabilities
        digits = [str(d) for d in ev.get("digits") or []]
        if digits:
            intent = rules.call_intent(digits, reconfirm=cfg.reconfirm_cancel, second_prompt=caps.second_prompt,
                                       pay=cfg.pay_offer)
        else:
            intent = {"confirm": Intent.CONFIRM, "cancel": Intent.CANCEL, "agent": Intent.AGENT}.get(ev["outcome"],
                                                                                                     Intent.UNKNOWN)
        pressed = ", ".join(digits) or ev.get("raw_status") or ev["outcome"]
        # Compare-and-set on the attempt's state: a key press beats the end-of-call callback that follows it
        # (Twilio sends both), a repeated result changes nothing, and a late "no answer" of an attempt already
        # closed moves nothing. One transaction with the decision: a killed worker loses neither.
        closing = [AttemptState.IN_FLIGHT, AttemptState.REQUESTED, AttemptState.UNKNOWN]
        with fenced():
            if digits:
                hit = Attempt.objects.filter(pk=attempt.pk, state__in=closing + [AttemptState.NO_ANSWER]).update(
                    state=AttemptState.ANSWERED, answer=",".join(digits)[:500], answered_at=clock.now())
            else:
                hit = Attempt.objects.filter(pk=attempt.pk, state__in=closing).exists()
            c.refresh_from_db()
            if not hit or c.state in ROBOT_DONE:
                _note(exchange, Level.INFO, f"late or repeated result for {c.order_label}: already {c.state}")
                return
            if intent in (Intent.CONFIRM, Intent.CANCEL):
                decide(c, intent, channel=Channel.CALL, exchange=exchange, detail=f"pressed {pressed}")
            elif intent == Intent.PAY:
                pay.choose_to_pay(c, channel=Channel.CALL, exchange=exchange, detail=f"pressed {pressed}",
                              connection_id=attempt.connection_id)
            elif intent == Intent.AGENT:
                Attempt.objects.filter(pk=attempt.pk, state__in=closing).update(
                    state=AttemptState.ANSWERED, answered_at=clock.now())
                c.move(ConfirmationState.NEEDS_PERSON, reason="customer pressed 0 for a person", channel=Channel.CALL,
                       exchange=exchange, expect=OPEN, needs_person_reason="asked for a person")
            else:
                after_no_answer(c, attempt, exchange=exchange, closed=bool(digits),
                                reason=f"attempt {attempt.number}: {ev['outcome']} ({pressed})")


@register_job_kind
class ApplySmsReply(JobKind):
    """A customer answered by SMS: match it to their pending order and apply it, or hand it to a person."""

    kind = "cod_confirm.apply_sms_reply"

    def run(self, job: Job) -> None:
        ev = job.payload["event"]
        exchange = inbound_of(job)
        route_text_reply(job.integration, job.payload.get("connection_id"), ev["from_number"], ev["text"],
                         exchange=exchange, channel=Channel.SMS)


def route_text_reply(integration, connection_id, from_number: str, text: str, *, exchange, channel: str,
                     sent_at: int | None = None) -> None:
    """A typed reply: on a shared account first find the store it is about (cod_confirm.routing), then apply it.
    `sent_at`: the provider's Unix time of the message, when it gives one (WhatsApp)."""
    connection = Connection.objects.filter(pk=connection_id).first()
    if routing.is_shared(connection):
        found, phone = routing.for_reply(connection, from_number, OPEN | AWAITING | {"needs_person"})
        if len(found) != 1:
            _shared_reply_to_people(found, phone, text, exchange, channel)
            return
        integration = found[0]
        routing.claim(exchange, integration.store_id)
    apply_text_reply(integration, from_number, text, exchange=exchange, channel=channel, connection_id=connection_id,
                     sent_at=sent_at)


def _shared_reply_to_people(found: list, phone: str, text: str, exchange, channel: str) -> None:
    """A reply on a shared account that no single store can claim: every candidate order to a person, no answer."""
    if not found:
        _note(exchange, Level.WARNING, "no store sharing this account has an open order for this number; "
                                       "a person reads it in the log")
        return
    stores = ", ".join(i.store.name for i in found)
    for c in Confirmation.objects.filter(store_id__in=[i.store_id for i in found], phone=phone,
                                         state__in=OPEN | AWAITING):
        c.move(ConfirmationState.NEEDS_PERSON, channel=channel, exchange=exchange, expect=OPEN | AWAITING,
               needs_person_reason="reply to a shared account",
               reason=f"the customer replied {text[:200]!r} to an account several stores share, and more than one of "
                      f"them has an open order of this number: a person decides")
    _note(exchange, Level.WARNING, f"reply could belong to several stores ({stores}); their orders went to a person")


def apply_text_reply(integration: Integration, from_number: str, text: str, *, exchange, channel: str,
                     connection_id=None, sent_at: int | None = None) -> None:
    """A typed answer (SMS, or WhatsApp free text): the same parser; the customer's pending order, or a person."""
    cfg = config_of(integration)
    phone = shop.normalize_phone(from_number, integration.store.country)
    intent, order_no = rules.parse_reply(text)
    pending = list(Confirmation.objects.filter(store=integration.store, phone=phone or "-",
                                               state__in=OPEN | AWAITING | {"needs_person"}).order_by("-order_id"))
    target = None
    if order_no is not None:
        target = next((c for c in pending if c.order_id == order_no or c.order_label == str(order_no)), None)
    elif len(pending) == 1 or (pending and cfg.several_pending == "latest"):
        target = pending[0]
    if target is not None:
        about_order(target.order_id, exchange=exchange)
    if intent == Intent.STOP and phone:
        _opt_out_by_reply(integration, connection_id, cfg, phone, text, pending, exchange=exchange, channel=channel)
        return
    if intent == Intent.PAY and not cfg.pay_offer:
        intent = Intent.UNKNOWN  # not offered: a person reads it
    if target is None or intent not in (Intent.CONFIRM, Intent.CANCEL, Intent.PAY):
        why = ("reply not understood" if intent == Intent.UNKNOWN else "reply does not name a pending order"
               if target is None else "customer asked for a person")
        for c in ([target] if target else pending):
            c.move(ConfirmationState.NEEDS_PERSON, reason=f"{why}: {text[:200]!r}", channel=channel,
                   exchange=exchange, expect=OPEN | AWAITING, needs_person_reason=why)
        if channel == Channel.SMS and phone:
            _note(exchange, Level.WARNING, f"{why}; sent a polite answer")
            _polite_answer(integration, connection_id, cfg, phone, target or (pending[0] if pending else None))
        else:
            _note(exchange, Level.WARNING, f"{why}; a person answers")
        return
    Attempt.objects.filter(confirmation=target, channel=channel,
                           state__in=[AttemptState.IN_FLIGHT, AttemptState.UNKNOWN]).update(
        state=AttemptState.ANSWERED, answer=text[:500], answered_at=clock.now())
    if intent == Intent.PAY:
        pay.choose_to_pay(target, channel=channel, exchange=exchange, detail=f"replied {text[:100]!r}",
                          connection_id=connection_id, sent_at=sent_at)
        return
    decide(target, intent, channel=channel, exchange=exchange, detail=f"replied {text[:100]!r}")


def _opt_out_by_reply(integration, connection_id, cfg, phone, text, pending, *, exchange, channel) -> None:
    """"STOP"/"DUR"/"СТОП": on the store's do-not-contact list, every open confirmation of the number to a person
    (its order still needs a decision), and one SMS saying so — once per list entry, however often they repeat it."""
    row, _ = optouts.add(integration.store, phone, scope=OptOutScope.ALL, source=OptOutSource.REPLY,
                         reply=text[:500])
    for c in pending:
        Attempt.objects.filter(confirmation=c, state__in=[AttemptState.IN_FLIGHT, AttemptState.UNKNOWN]).update(
            state=AttemptState.ANSWERED, answer=text[:500], answered_at=clock.now())
        c.move(ConfirmationState.NEEDS_PERSON, reason=f"the customer asked not to be called or texted: {text[:200]!r}",
               channel=channel, exchange=exchange, expect=OPEN | AWAITING, needs_person_reason="opted out")
    if channel != Channel.SMS:
        _note(exchange, Level.WARNING, "on the do-not-contact list; a person answers")
        return
    _note(exchange, Level.WARNING, "on the do-not-contact list; told the customer once")
    c = pending[0] if pending else None
    _answer_sms(integration, connection_id, cfg, phone, c, cfg.optout_texts,
                f"{KIND}:{integration.store_id}:optout:{row.pk}:ack", even_if_opted_out=True)


def _polite_answer(integration, connection_id, cfg, phone, c) -> None:
    # Once per order (or per number and day): an auto-responder on the other side must not start a ping-pong.
    about = f"{c.order_id}" if c else f"{phone}:{clock.now():%Y%m%d}"
    _answer_sms(integration, connection_id, cfg, phone, c, cfg.unclear_texts,
                f"{KIND}:{integration.store_id}:{about}:polite-reply")


def _answer_sms(integration, connection_id, cfg, phone, c, texts, key, *, even_if_opted_out=False) -> None:
    """An SMS answering the customer's SMS, through the account the reply came in on (else the plan's first SMS
    step); keyed, so once. A number on the do-not-text list gets only the answer to its own STOP."""
    if not even_if_opted_out and optouts.blocked(integration.store, phone, Channel.SMS):
        return
    connection = Connection.objects.filter(pk=connection_id).first()
    if connection is not None and integration.store_id not in connection.served_store_ids():
        connection = None
    if connection is None:
        step = plan.first_step_for(integration, Channel.SMS)
        connection = step.connection if step else None
    if connection is None or not client_class(connection.service).capabilities.can_sms:
        return
    client = client_for(connection)
    label = c.order_label if c else ""
    text = mappers.fill(cfg.text(texts, c.language if c else integration.store.language), name="",
                        order_label=label, total=0, currency="", shop=integration.store.name, items=0,
                        with_details=False)
    if even_if_opted_out:  # the answer to STOP is owed whatever today's cap (it is counted all the same)
        effect = outbox.request(key, kind="sms", service=connection.service, store=integration.store,
                                connection=connection, integration=integration)
    else:
        effect, over_cap = spend.request(key, kind="sms", service=connection.service, store=integration.store,
                                         connection=connection, integration=integration)
        if effect is None:
            log.info("reply to %s not sent: %s", phone, over_cap)
            return
    outbox.perform(effect, lambda e: client.send_sms(to=phone, text=text, key=key, reference=str(e.correlation),
                                                     sender=cfg.sms_sender or None).provider_id)


@register_job_kind
class ApplyDeliveryReport(JobKind):
    """An SMS could not be delivered: the attempt is closed undelivered (the next one is scheduled at once)."""

    kind = "cod_confirm.apply_delivery_report"
    max_attempts = 6

    def run(self, job: Job) -> None:
        ev = job.payload["event"]
        exchange = inbound_of(job)
        if ev.get("delivered") is not False:
            if routing.is_shared(Connection.objects.filter(pk=job.payload.get("connection_id")).first()):
                attempt = attempt_for(job, ev)  # a shared account: the report is logged with its store
                routing.claim(exchange, attempt.confirmation.store_id if attempt else None)
            return
        attempt = attempt_for(job, ev)
        if attempt is None:  # the report overtook our record of the send: wait for it, like a call result
            raise RetryableError(job.payload["service"], "unknown_sms", "SMS not known yet", retry_after=30)
        about_order(attempt.confirmation.order_id)
        routing.claim(exchange, attempt.confirmation.store_id)
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
        about_order(c.order_id)
        decision = job.payload.get("decision")
        if decision is not None and decision != _last_decision(c):
            return  # a later decision superseded this one before it was written: that one's job writes
        cfg = config_of(c.integration)
        last = c.transitions.exclude(channel="").order_by("pk").last()
        channel = last.channel if last is not None else "dashboard"
        if c.state == ConfirmationState.CONFIRMED:
            target, comment = cfg.confirmed_status_id, cfg.comment_confirmed
        elif c.state in (ConfirmationState.CANCELLED, ConfirmationState.EXPIRED):
            target = cfg.cancelled_status_id
            comment = cfg.comment_cancelled if c.state == ConfirmationState.CANCELLED else cfg.comment_exhausted
        else:
            return
        if c.decided_by == "person":  # the history says who decided
            person = c.transitions.filter(pk=decision).values_list("user", flat=True).first() if decision else ""
            comment = (cfg.comment_person_confirmed if c.state == ConfirmationState.CONFIRMED
                       else cfg.comment_person_cancelled).replace("{person}", person or "a person")
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

        def send(effect) -> str:
            if channel == Channel.CALL:
                # The result comes back to the call-result hook with a provider id no attempt has: a warning.
                return client.start_confirmation_call(
                    to=phone, text=_with_pay_offer(mappers.fill(cfg.text(cfg.call_texts, lang), **sample), cfg,
                                                   cfg.pay_call_texts, lang),
                    digits=call_digits(cfg), webhook_url=connection.webhook_url("call-result"),
                    key=job.key, reference=str(effect.correlation), language=lang,
                    caller_id=cfg.caller_id or None).provider_id
            return client.send_sms(to=phone, text=_with_pay_offer(mappers.fill(cfg.text(cfg.sms_texts, lang), **sample),
                                                                  cfg, cfg.pay_sms_texts, lang), key=job.key,
                                   reference=str(effect.correlation), webhook_url=connection.webhook_url("sms"),
                                   sender=cfg.sms_sender or None).provider_id

        # Not tied to the store or connection: a test a person asked for now is never paused and sent later.
        effect = outbox.perform(outbox.request(job.key, kind=channel, service=connection.service), send)
        if effect.state == SideEffectState.FAILED:
            raise TerminalError(connection.service, "refused", outbox.refusal(effect))
