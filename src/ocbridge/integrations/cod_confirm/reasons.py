"""The robot's reasons, read in the reader's language and the store's time zone.

Reasons are stored in English (the audit trail must read the same whoever looks, and jobs write them without a
request); the dashboard shows them through `translate_reason`. Each pattern here matches one `reason=` written in
jobs.py; a reason no pattern knows is shown as stored. `needs_person_reason` values are a closed set (WHY).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, ngettext

WHY = {  # needs_person_reason → label; gettext_noop marks them for the catalog, _() reads them at display time
    "phone invalid": gettext_noop("phone number not usable"),
    "no usable channel": gettext_noop("the connection cannot call or text as set"),
    "language not spoken": gettext_noop("the provider cannot speak the customer's language"),
    "dry run": gettext_noop("dry run: nobody was contacted"),
    "manual attempt unanswered": gettext_noop("the call or SMS a person asked for got no answer"),
    "attempts used up": gettext_noop("no answer, attempts used up"),
    "undelivered": gettext_noop("the last message never reached the customer, attempts used up"),
    "paused while switched off": gettext_noop("paused while switched off, past its calling day"),
    "could not be sent": gettext_noop("the call or SMS could not be sent"),
    "asked for a person": gettext_noop("the customer asked for a person"),
    "reply not understood": gettext_noop("SMS reply not understood"),
    "reply does not name a pending order": gettext_noop("SMS reply does not say which order"),
    "customer asked for a person": gettext_noop("the customer asked for a person"),
    "risk score": gettext_noop("held: the phone's risk score is high"),
    "opted out": gettext_noop("the number is on the do-not-contact list"),
    "arrived while switched off": gettext_noop("placed while COD confirmation was switched off"),
    "daily cap reached": gettext_noop("the store's daily cap on calls and messages was reached"),
    "reply to a shared account": gettext_noop("reply to an account several stores share"),
    "no payment integration": gettext_noop("pay by card chosen, but no payment integration is switched on"),
    "pay link not made": gettext_noop("the pay link could not be made"),
    "pay link not sent": gettext_noop("the pay link could not be sent"),
    "not paid in time": gettext_noop("pay by card chosen, not paid in time"),
    "pay now switched off": gettext_noop("pay by card chosen, but the store no longer offers it"),
}
RISK_COUNTS = {"confirmed": gettext_noop("%(n)s confirmed"), "cancelled": gettext_noop("%(n)s cancelled"),
               "unanswered": gettext_noop("%(n)s unanswered"), "refused": gettext_noop("%(n)s refused"),
               "delivered": gettext_noop("%(n)s delivered")}
OUTCOMES = {"confirm": gettext_noop("confirmed"), "cancel": gettext_noop("cancelled"), "agent": gettext_noop(
    "asked for a person"), "no_answer": gettext_noop("no answer"), "busy": gettext_noop("line busy"),
    "failed": gettext_noop("call failed"), "unknown": gettext_noop("not understood")}
CHANNELS = {"call": gettext_noop("call"), "sms": gettext_noop("SMS"), "whatsapp": gettext_noop("WhatsApp message"),
            "web": gettext_noop("the address page")}
DECIDERS = {"customer": gettext_noop("the customer"), "person": gettext_noop("a person"),
            "shop": gettext_noop("the shop"), "system": gettext_noop("the rules")}


def why_label(value: str) -> str:
    return _(WHY[value]) if value in WHY else value


def decider_label(value: str) -> str:
    return _(DECIDERS[value]) if value in DECIDERS else value


def channel_label(value: str) -> str:
    return _(CHANNELS[value]) if value in CHANNELS else value


def _when(text: str, tz: dt.tzinfo | None) -> str:
    moment = dt.datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=dt.timezone.utc)
    return formats.date_format(moment.astimezone(tz) if tz else moment, "SHORT_DATETIME_FORMAT", use_l10n=True)


def _pressed(text: str) -> str:
    digits = [d.strip() for d in text.split(",") if d.strip()]
    if digits and all(d.isdigit() for d in digits):
        return _("pressed %(keys)s") % {"keys": ", ".join(digits)}
    return _(OUTCOMES[text]) if text in OUTCOMES else text


def _skip(text: str) -> str:
    for pattern, fn in (
        (r"total (\S+) is below the minimum (\S+)", lambda m: _("total %(total)s is below the minimum %(limit)s")),
        (r"total (\S+) is above the maximum (\S+)", lambda m: _("total %(total)s is above the maximum %(limit)s")),
        (r"customer has (\d+) completed orders", lambda m: ngettext("the customer has %(n)s completed order",
                                                                      "the customer has %(n)s completed orders",
                                                                      int(m[1]))),
    ):
        m = re.fullmatch(pattern, text)
        if m:
            groups = m.groups()
            params = {"total": groups[0], "limit": groups[-1], "n": groups[0]}
            return fn(m) % params
    return text


def _risk_counts(text: str) -> str:
    """ "2 refused, 1 cancelled" (risk.Score.reason) in the reader's language; anything else unchanged."""
    if text == "no history":
        return _("no history")
    parts = []
    for part in text.split(", "):
        m = re.fullmatch(r"(\d+) (\w+)", part)
        if not m or m[2] not in RISK_COUNTS:
            return text
        parts.append(_(RISK_COUNTS[m[2]]) % {"n": m[1]})
    return ", ".join(parts)


def _risk(text: str) -> str:
    m = re.fullmatch(r"risk score (\S+) is above (\S+) \((.*)\)", text)
    if m:
        return _("risk score %(score)s is above %(limit)s (%(counts)s)") % {
            "score": m[1], "limit": m[2], "counts": _risk_counts(m[3])}
    m = re.fullmatch(r"proven customer \((.*)\)", text)
    return _("proven customer (%(counts)s)") % {"counts": _risk_counts(m[1])} if m else text


def _cap(text: str) -> str:
    """core.spend's refusal, stored in English."""
    m = re.fullmatch(r"the daily cap of (\d+) (call|sms|whatsapp) is reached", text)
    if m:
        return _("%(cap)s %(what)s a day") % {"cap": m[1], "what": channel_label(m[2])}
    m = re.fullmatch(r"the daily spending cap of (\S+) (\w+) would be passed \((\S+) spent today\)", text)
    if m:
        return _("%(cap)s %(currency)s a day would be passed, %(spent)s spent today") % {
            "cap": m[1], "currency": m[2], "spent": m[3]}
    return text


def _chat_why(text: str) -> str:
    """Why a pay link did not go in the WhatsApp chat (cod_confirm.pay._in_chat), stored in English."""
    if text == "the customer's last WhatsApp message is more than 24 hours old":
        return _("the customer's last WhatsApp message is more than 24 hours old")
    m = re.fullmatch(r"WhatsApp (refused|could not deliver) it \((.*)\)", text, re.S)
    if m and m[1] == "refused":
        return _("WhatsApp refused it (%(detail)s)") % {"detail": m[2]}
    if m:
        return _("WhatsApp could not deliver it (%(detail)s)") % {"detail": m[2]}
    return text


def _step_skip(text: str) -> str:
    if text == "the number is on the do-not-contact list":
        return _(WHY["opted out"])
    for pattern, fn in (
        (r"WhatsApp is not used for numbers in (.*)", lambda r: _("WhatsApp is not used for numbers in %(region)s")),
        (r"calls are not made to numbers in (.*)", lambda r: _("calls are not made to numbers in %(region)s")),
        (r"SMS is not sent to numbers in (.*)", lambda r: _("SMS is not sent to numbers in %(region)s")),
    ):
        m = re.fullmatch(pattern, text)
        if m:
            region = _("an unknown region") if m[1] == "an unknown region" else m[1]
            return fn(region) % {"region": region}
    return _skip(text)


# (pattern, fn(match, tz) -> text); fullmatch against the stored reason
PATTERNS: list[tuple[re.Pattern, Callable[[re.Match, dt.tzinfo | None], str]]] = [(re.compile(p, re.S), f) for p, f in [
    (r"attempt (\d+) due (\d{4}-\d\d-\d\d \d\d:\d\d) UTC",
     lambda m, tz: _("attempt %(n)s planned for %(when)s") % {"n": m[1], "when": _when(m[2], tz)}),
    (r"attempt (\d+): (call|sms|whatsapp) requested",
     lambda m, tz: _("attempt %(n)s: %(channel)s sent") % {"n": m[1], "channel": channel_label(m[2])}),
    (r"attempt (\d+): (\w+) \((.*)\)",
     lambda m, tz: _("attempt %(n)s: %(outcome)s (%(detail)s)") % {
         "n": m[1], "outcome": _(OUTCOMES[m[2]]) if m[2] in OUTCOMES else m[2], "detail": _pressed(m[3])}),
    (r"attempt (\d+) outcome unknown \((.*)\); not resent",
     lambda m, tz: _("attempt %(n)s: outcome unknown (%(detail)s); not sent again") % {"n": m[1], "detail": m[2]}),
    (r"paused while switched off, past its calling day; nothing sent",
     lambda m, tz: _("paused while switched off, past its calling day; nothing sent")),
    (r"attempt (\d+) could not be sent; a person takes over",
     lambda m, tz: _("attempt %(n)s could not be sent; a person takes over") % {"n": m[1]}),
    (r"the watchdog found nothing scheduled",
     lambda m, tz: _("nothing was scheduled for this order; the watchdog took it up")),
    (r"attempt (\d+) may still be answered; no second call or SMS now",
     lambda m, tz: _("attempt %(n)s may still be answered; no second call or SMS now") % {"n": m[1]}),
    (r"attempt (\d+) paused before sending: (.*)",
     lambda m, tz: _("attempt %(n)s paused before sending (%(detail)s)") % {"n": m[1], "detail": m[2]}),
    (r"no result for attempt (\d+) in time",
     lambda m, tz: _("no result for attempt %(n)s in time") % {"n": m[1]}),
    (r"no answer after (\d+) attempts",
     lambda m, tz: ngettext("no answer after %(n)s attempt", "no answer after %(n)s attempts", int(m[1])) % {"n": m[1]}),
    (r"pressed (.*)", lambda m, tz: _pressed(m[1])),
    (r"phone invalid: (.*)", lambda m, tz: _("phone number not usable: %(raw)s") % {"raw": m[1]}),
    (r"arrived while COD confirmation was switched off",
     lambda m, tz: _("placed while COD confirmation was switched off: not called late, a person decides")),
    (r"not confirmed automatically: (.*)",
     lambda m, tz: _("not confirmed automatically: %(why)s") % {"why": _risk(_skip(m[1]))}),
    (r"no history|\d+ (?:confirmed|cancelled|unanswered|refused|delivered)(?:, \d+ \w+)*",
     lambda m, tz: _risk_counts(m[0])),
    (r"held for a person: (.*)", lambda m, tz: _("held for a person: %(why)s") % {"why": _risk(m[1])}),
    (r"(risk score \S+ is above \S+ \(.*\)): confirming although (.*)",
     lambda m, tz: _("%(risk)s: confirming although %(why)s") % {"risk": _risk(m[1]), "why": _skip(m[2])}),
    (r"order status changed in the shop to (.*); nothing sent",
     lambda m, tz: _("the order's status was changed in the shop (to %(status)s); nothing sent") % {"status": m[1]}),
    (r"order status changed in the shop to (.*); not overwritten",
     lambda m, tz: _("the order's status was changed in the shop (to %(status)s); not overwritten") % {
         "status": m[1]}),
    (r"(\w+) cannot speak '(\w+)'",
     lambda m, tz: _("%(service)s cannot speak %(language)s") % {"service": m[1], "language": m[2]}),
    (r"(\w+) cannot (call|sms|call_then_sms)",
     lambda m, tz: _("%(service)s cannot send as the channel setting asks") % {"service": m[1]}),
    (r"the customer's page came after the order was decided; nothing changed",
     lambda m, tz: _("the customer's page came after the order was decided; nothing changed")),
    (r"address not changed: the order status is (\S+) in the shop now",
     lambda m, tz: _("address not changed: the order status is %(status)s in the shop now") % {"status": m[1]}),
    (r"delivery address corrected by the customer: (.*) → (.*)",
     lambda m, tz: _("delivery address corrected by the customer: %(old)s → %(new)s") % {"old": m[1], "new": m[2]}),
    (r"(\w+) refused: (.*)", lambda m, tz: _("%(service)s refused: %(detail)s") % {"service": m[1], "detail": m[2]}),
    (r"dry run: would (\w+) (\S*) \(attempt (\d+)\)",
     lambda m, tz: _("dry run: would have sent a %(channel)s to %(phone)s (attempt %(n)s)") % {
         "channel": channel_label(m[1]), "phone": m[2], "n": m[3]}),
    (r"SMS not delivered \((.*)\)", lambda m, tz: _("SMS not delivered (%(status)s)") % {"status": m[1]}),
    (r"(reply not understood|reply does not name a pending order|customer asked for a person): (.*)",
     lambda m, tz: f"{why_label(m[1])}: {m[2]}"),
    (r"(confirm|cancel) by (.+?) \(audit #(\d+)\): (.*)",
     lambda m, tz: (_("confirmed by %(user)s (audit #%(id)s): %(reason)s") if m[1] == "confirm" else
                    _("cancelled by %(user)s (audit #%(id)s): %(reason)s")) % {"user": m[2], "id": m[3], "reason": m[4]}),
    (r"the customer asked not to be called or texted: (.*)",
     lambda m, tz: _("the customer asked not to be called or texted: %(reply)s") % {"reply": m[1]}),
    (r"attempt (\d+) \((call|sms|whatsapp)\) not made: the number is on the do-not-contact list",
     lambda m, tz: _("attempt %(n)s (%(channel)s) not made: the number is on the do-not-contact list") % {
         "n": m[1], "channel": channel_label(m[2])}),
    (r"attempt (\d+) \((call|sms|whatsapp)\) not made: the store's daily cap is reached \((.*)\)",
     lambda m, tz: _("attempt %(n)s (%(channel)s) not made: the store's daily cap is reached (%(why)s)") % {
         "n": m[1], "channel": channel_label(m[2]), "why": _cap(m[3])}),
    (r"the customer replied (.*) to an account several stores share, and more than one of them has an open order "
     r"of this number: a person decides",
     lambda m, tz: _("the customer replied %(reply)s to an account several stores share, and more than one of them "
                     "has an open order of this number: a person decides") % {"reply": m[1]}),
    (r"no calling hours are set", lambda m, tz: _("no calling hours are set")),
    (r"the channel plan has no step (\d+)", lambda m, tz: _("the channel plan has no step %(n)s") % {"n": m[1]}),
    (r"the channel plan has no (call|sms|whatsapp)",
     lambda m, tz: _("the channel plan has no %(channel)s step") % {"channel": channel_label(m[1])}),
    (r"step (\d+) \((\w+)\) skipped: (.*)", lambda m, tz: _("step %(n)s (%(channel)s) skipped: %(why)s") % {
         "n": m[1], "channel": channel_label(m[2]), "why": _step_skip(m[3])}),
    (r"customer pressed 0 for a person", lambda m, tz: _("the customer pressed 0 for a person")),
    (r"customer asked for a person on WhatsApp", lambda m, tz: _("the customer asked for a person on WhatsApp")),
    (r"WhatsApp message failed \((.*)\)", lambda m, tz: _("WhatsApp message failed (%(why)s)") % {"why": m[1]}),
    (r"attempt (\d+): (\w+) reported it undelivered \((.*)\)",  # pages show its Sentence; this reads the English
     lambda m, tz: _("attempt {n}: {service} reported it undelivered ({detail})").format(n=m[1], service=m[2],
                                                                                          detail=m[3])),
    (r"attempt (\d+): (\w+) reported it undelivered; no step left",
     lambda m, tz: _("attempt {n}: {service} reported it undelivered; no step left").format(n=m[1], service=m[2])),
    (r"tapped (.*) on WhatsApp", lambda m, tz: _("tapped %(button)s on WhatsApp") % {"button": m[1]}),
    (r"the call or SMS a person asked for got no answer", lambda m, tz: _(WHY["manual attempt unanswered"])),
    (r"attempts used up: cancelling as configured", lambda m, tz: _("attempts used up: cancelling as set")),
    (r"the customer chose to pay by card \((.*)\); sending a pay link",
     lambda m, tz: _("the customer chose to pay by card (%(detail)s); sending a pay link") % {
         "detail": translate_reason(m[1], tz)}),
    (r"pay link for (.+) sent by (\w+) \(reference (\w+)\); waiting until (\d{4}-\d\d-\d\d \d\d:\d\d) UTC",
     lambda m, tz: _("pay link for %(amount)s sent by %(channel)s (reference %(ref)s); waiting until %(when)s") % {
         "amount": m[1], "channel": _("e-mail") if m[2] == "email" else channel_label(m[2]), "ref": m[3],
         "when": _when(m[4], tz)}),
    (r"pay link not sent in the WhatsApp chat: (.*); sending it by SMS",
     lambda m, tz: _("pay link not sent in the WhatsApp chat: %(why)s; sending it by SMS") % {"why": _chat_why(m[1])}),
    (r"pay link not made: the store has no payment integration switched on",
     lambda m, tz: _("pay link not made: the store has no payment integration switched on")),
    (r"pay link not made: (.*)", lambda m, tz: _("pay link not made: %(detail)s") % {"detail": m[1]}),
    (r"pay link not sent: the store's daily cap is reached \((.*)\)",
     lambda m, tz: _("pay link not sent: the store's daily cap is reached (%(why)s)") % {"why": _cap(m[1])}),
    (r"pay link not sent: the order has no e-mail address",
     lambda m, tz: _("pay link not sent: the order has no e-mail address")),
    (r"pay link not sent: (.*)", lambda m, tz: _("pay link not sent: %(detail)s") % {"detail": m[1]}),
    (r"customer tapped Pay now on WhatsApp, but paying now is switched off",
     lambda m, tz: _("the customer tapped Pay now on WhatsApp, but paying now is switched off")),
    (r"the customer chose to pay by card but has not paid in time",
     lambda m, tz: _("the customer chose to pay by card but has not paid in time")),
    (r"replied (.*)", lambda m, tz: _("replied %(reply)s") % {"reply": m[1]}),
    (r"paid by card \((\w+), reference (\w+)\)",
     lambda m, tz: _("paid by card (reference %(ref)s)") % {"ref": m[2]}),
]]


def translate_reason(reason: str, tz: dt.tzinfo | None = None) -> str:
    """A stored reason in the active language; times in `tz` (the store's). Unknown reasons unchanged."""
    for pattern, fn in PATTERNS:
        m = pattern.fullmatch(reason or "")
        if m:
            return fn(m, tz)
    return reason
