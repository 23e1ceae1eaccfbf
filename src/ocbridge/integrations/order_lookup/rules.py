"""Pure decisions of an order-status call: what to say and where the call goes next. No I/O here.

The flow (issue 5, DESIGN Decisions): the caller's number finds their orders → the latest one is read
out, with "1 for the others" when there are several; none → the caller types an order number, whose
status is read only when the order's phone is the caller's; 0, silence where an answer is needed, and
every failure → the customer representative.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from ocbridge.integrations.order_lookup.choices import CallOutcome, Reason
from ocbridge.integrations.order_lookup.config import OrderLookupConfig

MENU = "menu"  # waiting for 1 (next order) / 0 (a person)
ORDER_NUMBER = "order_number"  # waiting for an order number typed on the keypad
REP_KEY = "0"
NEXT_KEY = "1"
MAX_ORDER_DIGITS = 10


@dataclass
class OrderView:
    """The few facts of one order a call may speak; `phone` is the order's number in E.164 (or None)."""

    order_id: int
    label: str
    status_id: int
    status_name: str
    phone: str | None
    total: Decimal = Decimal("0")
    phones: tuple[str, ...] = ()  # every number of the order's telephone field (`phone` is the first)
    currency: str = ""
    date_added: dt.datetime | None = None
    comment: str = ""
    store_id: int = 0
    tracking_code: str = ""  # from a fulfilment integration (core.registry.facts_of), when it has one
    courier: str = ""


@dataclass
class Speech:
    """One piece of what is said: a text key of mappers.TEXTS, or an order read out."""

    key: str
    order: OrderView | None = None
    count: int = 0


@dataclass
class Decision:
    """What the PBX does now: `prompt` (say and wait for keys), `transfer` (say, then a person) or `hangup`."""

    action: str
    reason: str = ""
    expect: str = ""
    speech: list[Speech] = field(default_factory=list)
    order_id: int | None = None
    max_digits: int = 1

    @property
    def outcome(self) -> str:
        if self.action == "transfer":
            return CallOutcome.TRANSFERRED
        if self.action == "hangup":
            return CallOutcome.ANSWERED
        return CallOutcome.IN_PROGRESS


def transfer(reason: str, *, greet: bool = False) -> Decision:
    """To the representative; the caller is told so, and never why (a refused order number stays unexplained)."""
    speech = [Speech("greeting")] if greet else []
    return Decision("transfer", reason=reason, speech=speech + [Speech("transfer")])


def guard(cfg: OrderLookupConfig, *, called: str, caller: str | None, recent_lookups: int) -> str | None:
    """The reason to hand the call to a person before looking anything up, or None."""
    if not cfg.answers_line(called):
        return Reason.UNKNOWN_LINE
    if not caller:
        return Reason.HIDDEN_CALLER
    if recent_lookups >= cfg.rate_limit:
        return Reason.RATE_LIMITED
    return None


def after_phone_lookup(cfg: OrderLookupConfig, latest: OrderView | None, found: int) -> Decision:
    """First answer of a call: the latest order (and the menu), or ask for an order number."""
    if latest is None:
        return Decision("prompt", expect=ORDER_NUMBER, speech=[Speech("greeting"), Speech("none")],
                        max_digits=MAX_ORDER_DIGITS)
    return speak(cfg, latest, more=min(found, cfg.max_orders) - 1, greet=True)


def speak(cfg: OrderLookupConfig, order: OrderView, *, more: int, greet: bool = False) -> Decision:
    """Read one order out, then offer the others (`more` left) and a person."""
    if not cfg.may_speak(order.status_id):
        return transfer(Reason.STATUS_NOT_SPOKEN, greet=greet)
    speech = ([Speech("greeting")] if greet else []) + [Speech("order", order=order)]
    speech.append(Speech("menu_more", count=more) if more > 0 else Speech("menu_last"))
    return Decision("prompt", reason=Reason.DONE, expect=MENU, speech=speech, order_id=order.order_id)


def after_menu(cfg: OrderLookupConfig, digits: str, next_order: OrderView | None, remaining: int) -> Decision:
    """The caller answered the menu: 0 → a person, 1 → the next order, nothing or anything else → goodbye."""
    if digits == REP_KEY:
        return transfer(Reason.REP_REQUESTED)
    if digits == NEXT_KEY and next_order is not None:
        return speak(cfg, next_order, more=remaining)
    return Decision("hangup", reason=Reason.DONE, speech=[Speech("goodbye")])


def parse_order_number(digits: str) -> int | None:
    d = (digits or "").strip().rstrip("#*")
    if not d.isdigit() or len(d) > MAX_ORDER_DIGITS or int(d) <= 0:
        return None
    return int(d)


def after_order_number(cfg: OrderLookupConfig, caller: str, order: OrderView | None) -> Decision:
    """Speak the typed order only when its phone is the caller's (DESIGN default); otherwise a person."""
    if order is None:
        return transfer(Reason.NOT_FOUND)
    if not caller or caller not in (order.phones or (order.phone,)):
        return transfer(Reason.PHONE_MISMATCH)
    return speak(cfg, order, more=0)
