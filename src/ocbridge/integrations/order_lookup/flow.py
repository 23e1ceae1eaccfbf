"""One request of an order-status call, provider-neutral: load the call, guard, look up, decide, remember.

Webhooks parse the provider's fields into a `CallInput`, call `decide()`, render the Decision in the
provider's format and hand the text back to `finish()`. Nothing here raises to the PBX: every failure
becomes a transfer to the customer representative with a reason (and a warning in the log).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass


from ocbridge import opencart
from ocbridge.core import clock, config_cache, rows
from ocbridge.core.sentences import Sentence, ngettext_noop
from ocbridge.integrations.order_lookup import rules, shop
from ocbridge.integrations.order_lookup.choices import CallOutcome, Reason
from ocbridge.integrations.order_lookup.config import OrderLookupConfig
from ocbridge.integrations.order_lookup.models import LookupCall
from ocbridge.integrations.order_lookup.rules import Decision

log = logging.getLogger(__name__)
KIND = "order_lookup"


@dataclass
class CallInput:
    """What the provider told us in this request. `digits` is None when no prompt is being answered."""

    service: str
    call_id: str
    caller_raw: str = ""
    called: str = ""
    step: int | None = None  # Verimor counts steps; Twilio does not (we count)
    digits: str | None = None
    error: str = ""
    bad: str = ""  # why the request is unusable (missing uuid/step…)
    region: str = ""  # how the provider writes national numbers (Verimor/Netgsm: TR); "" = the Store's country


@dataclass
class Turn:
    """The decision for this request, with everything needed to render and record it."""

    decision: Decision
    cfg: OrderLookupConfig
    lang: str
    shop_name: str
    call: LookupCall | None = None
    replay: str = ""  # the PBX repeated a step: send exactly what we sent before
    detail: str | Sentence = ""  # why, for the log (never spoken); a count is said (core.sentences)


def store_for_line(connection, called: str):
    """(store, integration) answering this call. One provider account shared by several stores
    (Connection.shared_with): the store whose order-status lines list the called number; when none or several do, the
    account's own store (whose line check then hands an unknown line to a person, never to a guessed shop)."""
    own = config_cache.integration(connection.store_id, KIND, enabled_only=True)
    served = connection.served_store_ids()
    if len(served) < 2:
        return connection.store, own
    candidates = [i for i in config_cache.integrations_of_stores(served, KIND)
                  if i.enabled and (cfg := OrderLookupConfig.from_settings(i.settings)).lines and cfg.answers_line(called)]
    if len(candidates) == 1:
        return candidates[0].store, candidates[0]
    return connection.store, own


def decide(connection, inp: CallInput) -> Turn:
    store, integration = store_for_line(connection, inp.called)
    cfg = OrderLookupConfig.from_settings(integration.settings if integration else None)
    lang = cfg.language_for(store.language)
    turn = Turn(rules.transfer(Reason.BAD_REQUEST), cfg, lang, store.name)
    if inp.bad or not inp.call_id:
        turn.detail = inp.bad or "no call id"
        return turn
    call, created = _call(connection, store, integration, inp, cfg, lang)
    turn.call = call
    if not created and call.last_response and (
            (inp.step is not None and inp.step == call.step) or (inp.step is None and inp.digits is None)):
        turn.replay = call.last_response
        return turn
    call.step = inp.step if inp.step is not None else call.step + 1
    if integration is None:
        turn.decision, turn.detail = rules.transfer(Reason.NOT_CONFIGURED), "no enabled order_lookup integration"
    elif created or not call.expecting and call.outcome == CallOutcome.IN_PROGRESS:
        turn.decision, turn.detail = _first(store, call, cfg, lang)
    elif call.expecting == rules.MENU:
        turn.decision, turn.detail = _menu(store, call, cfg, lang, inp.digits or "")
    elif call.expecting == rules.ORDER_NUMBER:
        turn.decision, turn.detail = _order_number(store, call, cfg, lang, inp.digits or "")
    else:
        turn.detail = f"call already ended ({call.outcome}); asked again at step {call.step}"
    return turn


def _call(connection, store, integration, inp: CallInput, cfg: OrderLookupConfig,
          lang: str) -> tuple[LookupCall, bool]:
    """The call's row; a new call's row is only built here and inserted by `finish()` (one write per request)."""
    # Most requests are a call's first step: whether its row exists is read without the ORM (core.rows.select).
    found = rows.select(f'SELECT "id" FROM "{LookupCall._meta.db_table}" WHERE "service" = %s AND "call_id" = %s',
                        [inp.service, inp.call_id[:128]])
    if found:
        return LookupCall.objects.get(pk=found[0][0]), False
    region = inp.region or store.country
    caller = opencart.phones.normalize(inp.caller_raw, region) if inp.caller_raw else None
    return LookupCall(service=inp.service, call_id=inp.call_id[:128], store=store, integration=integration,
                      connection=connection, caller_raw=inp.caller_raw[:64], caller=caller or "",
                      called=inp.called[:64], language=lang, created=clock.now()), True


def _first(store, call: LookupCall, cfg: OrderLookupConfig, lang: str) -> tuple[Decision, str | Sentence]:
    recent = LookupCall.recent_lookups(call.caller, minutes=cfg.rate_window_minutes) if call.caller else 0
    reason = rules.guard(cfg, called=call.called, caller=call.caller or None, recent_lookups=recent)
    if reason:
        detail = {Reason.UNKNOWN_LINE: f"called number {call.called!r} is not one of this store's lines",
                  Reason.HIDDEN_CALLER: f"caller number {call.caller_raw!r} is hidden or not a phone number",
                  Reason.RATE_LIMITED: _lookups(recent, cfg)}
        return rules.transfer(reason), detail.get(reason, "")
    call.lookups += 1
    try:
        ids, latest = shop.first_lookup(store, shop.caller_orders(store, call.caller, cfg), cfg, lang)
    except shop.ShopUnavailable as exc:
        return rules.transfer(Reason.DB_DOWN), str(exc)
    call.order_ids, call.position = ids, 0
    return rules.after_phone_lookup(cfg, latest, len(ids)), Sentence(*ngettext_noop(
        "{count} order for this number", "{count} orders for this number"), count=len(ids))


def _lookups(recent: int, cfg: OrderLookupConfig) -> Sentence:
    return Sentence(*ngettext_noop("{count} lookup from this number in {minutes} min",
                                   "{count} lookups from this number in {minutes} min"),
                    count=recent, minutes=cfg.rate_window_minutes)


def _menu(store, call: LookupCall, cfg: OrderLookupConfig, lang: str, digits: str) -> tuple[Decision, str]:
    nxt, remaining = None, 0
    if digits == rules.NEXT_KEY and call.position + 1 < len(call.order_ids):
        try:
            nxt = shop.order_view(store, call.order_ids[call.position + 1], cfg, lang)
        except shop.ShopUnavailable as exc:
            return rules.transfer(Reason.DB_DOWN), str(exc)
        call.position += 1
        remaining = len(call.order_ids) - call.position - 1
    return rules.after_menu(cfg, digits, nxt, remaining), f"menu key {digits!r}"


def _order_number(store, call: LookupCall, cfg: OrderLookupConfig, lang: str,
                  digits: str) -> tuple[Decision, str | Sentence]:
    typed = digits.strip().rstrip("#")
    if not typed:
        return rules.transfer(Reason.NO_INPUT), "no order number typed"
    if typed == rules.REP_KEY:
        return rules.transfer(Reason.REP_REQUESTED), ""
    order_id = rules.parse_order_number(typed)
    if order_id is None:
        return rules.transfer(Reason.NOT_FOUND), "not an order number"
    recent = LookupCall.recent_lookups(call.caller, minutes=cfg.rate_window_minutes)
    if recent >= cfg.rate_limit:
        return rules.transfer(Reason.RATE_LIMITED), _lookups(recent, cfg)
    call.lookups += 1
    try:
        order = shop.order_view(store, order_id, cfg, lang)
    except shop.ShopUnavailable as exc:
        return rules.transfer(Reason.DB_DOWN), str(exc)
    decision = rules.after_order_number(cfg, call.caller, order)
    if decision.reason == Reason.PHONE_MISMATCH:
        return decision, f"order {order_id} has another phone number: not read out"
    return decision, f"typed order {order_id}"


def finish(turn: Turn, *, spoken: str, response: str, exchange) -> None:
    """Remember what we said and answered on the call row (the Exchange holds the raw request and answer)."""
    call, d = turn.call, turn.decision
    if call is None or turn.replay:
        return
    call.expecting = d.expect
    call.outcome = d.outcome
    if d.reason:
        call.reason = d.reason
    if d.order_id is not None:
        call.order_id = d.order_id
        call.order_label = call.store.order_label(d.order_id)
    call.spoken = (call.spoken + ("\n" if call.spoken else "") + f"[{call.step}] {spoken}")[-4000:]
    call.last_response = response
    call.exchange = exchange
    if exchange is not None and exchange.store_id != call.store_id:  # a shared account's call: its store's log
        exchange.store_id = call.store_id
        if exchange.pk:
            type(exchange).objects.filter(pk=exchange.pk).update(store_id=call.store_id)
    call.updated = clock.now()
    if call.pk is not None:
        call.save()
        return
    if rows.insert_unless_exists(call, ("service", "call_id")) is None:
        # the PBX sent the same first step twice at once; the other request recorded it
        log.info("order lookup call %s recorded by a parallel request", call.call_id)
