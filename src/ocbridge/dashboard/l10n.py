"""Numbers, percentages, money and durations written the way the reader's language writes them.

Django's locale formats give the separators (tr "1.234,5", ru "1 234,5", en "1,234.5"); what they do not give is
where the currency sign and the percent sign go, which follows CLDR here: tr "₺1.234,50" and "%45",
ru "1 234,50 ₽" and "45 %", en "₺1,234.50" and "45%".
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from zoneinfo import ZoneInfo

from django.utils import formats, timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

SYMBOLS = {"TRY": "₺", "RUB": "₽", "USD": "$", "EUR": "€", "GBP": "£", "KZT": "₸", "UAH": "₴", "AZN": "₼"}
NBSP = "\u00a0"


def _lang() -> str:
    return (get_language() or "en")[:2]


def number(value, decimals: int | None = None) -> str:
    """A count or amount with the language's grouping and decimal separators."""
    if value is None:
        return "—"
    return formats.number_format(value, decimal_pos=decimals, use_l10n=True, force_grouping=True)


def percent(value: float | None, decimals: int = 0) -> str:
    """45.2 → "%45" (tr), "45 %" (ru), "45%" (en); None → "—"."""
    if value is None:
        return "—"
    n = number(round(value, decimals), decimals)
    lang = _lang()
    if lang == "tr":
        return f"%{n}"
    if lang == "ru":
        return f"{n}{NBSP}%"
    return f"{n}%"


def money(amount, currency: str) -> str:
    """An amount in a store's currency: sign placed and separators chosen per language."""
    if amount is None:
        return "—"
    n = number(Decimal(str(amount)).quantize(Decimal("0.01")), 2)
    code = (currency or "").upper()
    sign = SYMBOLS.get(code)
    if sign is None:
        return f"{n}{NBSP}{code}".strip()
    if _lang() == "ru":
        return f"{n}{NBSP}{sign}"
    return f"{sign}{n}"


def duration(seconds: float | None) -> str:
    """A median wait, e.g. "45 s", "4 min 05 s", "2 h 07 min"."""
    if seconds is None:
        return "—"
    s = int(round(seconds))
    if s < 60:
        return _("%(s)d s") % {"s": s}
    if s < 3600:
        return _("%(m)d min %(s)02d s") % {"m": s // 60, "s": s % 60}
    return _("%(h)d h %(m)02d min") % {"h": s // 3600, "m": s % 3600 // 60}


def day_label(day: dt.date) -> str:
    """Short day label under a chart bar: 29.11 (tr, ru), 11/29 (en)."""
    return day.strftime("%m/%d") if _lang() == "en" else day.strftime("%d.%m")


def when(value: dt.datetime | None, tz: dt.tzinfo | None = None, *, long: bool = False) -> str:
    """A moment in the given time zone (a store's), in the language's short (or long) date-time format."""
    if value is None:
        return "—"
    if tz is not None:
        value = value.astimezone(tz)
    return formats.date_format(value, "DATETIME_FORMAT" if long else "SHORT_DATETIME_FORMAT", use_l10n=True)


def zone(store=None) -> dt.tzinfo:
    """The time zone a row is shown in: its store's own, else the active one (the user's; UTC unless set).

    The one rule for every dashboard page: a moment that belongs to one store is that store's local time.
    """
    name = getattr(store, "timezone", "") if store is not None else ""
    if name:
        try:
            return ZoneInfo(name)
        except Exception:  # a bad zone name is a settings error shown on the store page, not here
            pass
    return timezone.get_current_timezone()


def zone_name(tz: dt.tzinfo) -> str:
    """"Europe/Istanbul" for a ZoneInfo, "UTC" for UTC."""
    return getattr(tz, "key", None) or tz.tzname(None) or str(tz)


def zones_note(stores) -> str:
    """The sentence that names the time zone(s) a page's times are in, from the stores its rows belong to."""
    names = sorted({zone_name(zone(s)) for s in stores} or {zone_name(zone())})
    if len(names) == 1:
        return _("Times are in %(zone)s.") % {"zone": names[0]}
    return _("Times are in each store's time zone: %(zones)s.") % {"zones": ", ".join(names)}
