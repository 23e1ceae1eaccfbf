"""Template helpers: pretty-printed bodies, level/state badges, query-string building."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

from django import template
from django.utils.html import format_html

register = template.Library()

BADGE_CLASSES = {"info": "ok", "done": "ok", "ok": "ok", "warning": "warn", "queued": "muted", "running": "info",
                 "pending": "muted", "error": "bad", "failed": "bad", "errored": "bad", "rejected": "warn",
                 "cancelled": "muted"}


@register.filter
def pretty_body(text: str) -> str:
    """JSON indented, form bodies one field per line, XML indented; anything else as it is (already masked)."""
    if not text:
        return ""
    stripped = text.strip()
    if stripped[:1] in "{[":
        try:
            return json.dumps(json.loads(stripped), indent=2, ensure_ascii=False)
        except ValueError:
            return text
    if stripped[:1] == "<" and len(stripped) < 65536:
        try:
            from xml.dom import minidom

            return minidom.parseString(stripped).toprettyxml(indent="  ")
        except Exception:  # not well-formed: show as received
            return text
    if "=" in stripped and " " not in stripped and "\n" not in stripped:
        pairs = parse_qsl(stripped, keep_blank_values=True)
        if pairs:
            return "\n".join(f"{k} = {v}" for k, v in pairs)
    return text


@register.filter
def pretty_json(value) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str) if value not in (None, "", {}) else ""


@register.simple_tag
def badge(value: str, label: str = ""):
    return format_html('<span class="badge badge-{}">{}</span>', BADGE_CLASSES.get(str(value), "muted"),
                       label or value)


@register.simple_tag(takes_context=True)
def query_with(context, **kwargs) -> str:
    """The current query string with some parameters replaced (for pagers and filter links)."""
    params = context["request"].GET.copy()
    for key, value in kwargs.items():
        if value in (None, ""):
            params.pop(key, None)
        else:
            params[key] = value
    return params.urlencode()


@register.filter
def money(amount, currency: str = "") -> str:
    """`{{ c.total|money:c.currency }}`: the amount with the currency sign, written the reader's way."""
    from ocbridge.dashboard import l10n

    return l10n.money(amount, currency)


@register.filter
def store_time(value, store) -> str:
    """`{{ c.created|store_time:c.store }}`: a moment in the store's own time zone (no store: the active one)."""
    from ocbridge.dashboard import l10n

    return l10n.when(value, l10n.zone(store)) if value else "—"


@register.filter
def store_datetime(value, store) -> str:
    """`{{ job.created|store_datetime:job.store }}`: as `store_time`, in the long format (detail pages)."""
    from ocbridge.dashboard import l10n

    return l10n.when(value, l10n.zone(store), long=True) if value else "—"


@register.filter
def zone_name(store) -> str:
    """`{{ ex.store|zone_name }}`: the name of the time zone `store_time` uses for that store ("Europe/Istanbul")."""
    from ocbridge.dashboard import l10n

    return l10n.zone_name(l10n.zone(store or None))


@register.simple_tag
def zones_note(rows) -> str:
    """`{% zones_note page.rows %}`: "Times are in Europe/Istanbul." from the stores of the rows shown."""
    from ocbridge.core.models import Store
    from ocbridge.dashboard import l10n

    return l10n.zones_note(row if isinstance(row, Store) else getattr(row, "store", None) for row in rows)


@register.simple_tag
def live_refresh_ms() -> int:
    """`<body data-live-every="{% live_refresh_ms %}">`: how often live regions re-read the page."""
    from django.conf import settings

    return settings.LIVE_REFRESH_MS


@register.filter
def reason(text: str, store=None) -> str:
    """`{{ t.reason|reason:c.store }}`: a COD confirmation's stored reason in the reader's language, store time."""
    from ocbridge.dashboard import l10n
    from ocbridge.integrations.cod_confirm.reasons import translate_reason

    return translate_reason(text, l10n.zone(store))


@register.filter
def phone_url(phone: str) -> str:
    """`{{ c.phone|phone_url }}`: the phone's history page ("" for a number we could not read)."""
    from django.urls import reverse

    digits = (phone or "").lstrip("+")
    return reverse("dashboard:phone", args=[digits]) if phone and phone.startswith("+") and digits.isdigit() else ""


@register.filter
def why(value: str) -> str:
    """`{{ c.needs_person_reason|why }}`: why a person is needed, in the reader's language."""
    from ocbridge.integrations.cod_confirm.reasons import why_label

    return why_label(value)


@register.filter
def decider(value: str) -> str:
    from ocbridge.integrations.cod_confirm.reasons import decider_label

    return decider_label(value)


@register.filter
def channel_name(value: str) -> str:
    from ocbridge.integrations.cod_confirm.reasons import channel_label

    return channel_label(value)


@register.filter
def service_name(value: str) -> str:
    """`{{ a.service|service_name }}`: "Verimor" for "verimor" (the services' own names)."""
    from ocbridge.core.choices import Service

    try:
        return str(Service(value).label)
    except ValueError:
        return value


@register.filter
def shop_status(status_id, store) -> str:
    """`{{ c.history_status_id|shop_status:c.store }}`: "Processing (2)", the name the shop gives it."""
    from ocbridge.dashboard.shopnames import status_name

    return status_name(store, status_id)


@register.filter
def shop_payment(code: str, store) -> str:
    """`{{ c.payment_code|shop_payment:c.store }}`: "Kapıda Ödeme (cod)", the title the shop shows."""
    from ocbridge.dashboard.shopnames import payment_title

    return payment_title(store, code)


@register.simple_tag(takes_context=True)
def sort_th(context, key: str, label: str, css: str = ""):
    """`{% sort_th "created" _("Created") %}`: a column heading that sorts the list (again: the other way)."""
    page = context.get("page")
    current = getattr(page, "sort", "")
    if current == key:
        target, arrow, aria = f"-{key}", " ▲", "ascending"
    elif current == f"-{key}":
        target, arrow, aria = key, " ▼", "descending"
    else:
        target, arrow, aria = f"-{key}", "", "none"
    query = query_with(context, sort=target, page="", before="")
    return format_html('<th scope="col" class="{}" aria-sort="{}"><a href="?{}">{}{}</a></th>', css, aria, query,
                       label, arrow)


@register.filter
def error_summary(text: str) -> str:
    """A job's error in one line: for a crash, the exception's last line (no server paths); the full traceback
    stays on the job's page for whoever debugs it."""
    text = (text or "").strip()
    if text.startswith("Traceback"):
        from django.utils.translation import gettext as _

        last = text.splitlines()[-1] if text else ""
        return _("Unexpected error: %(error)s") % {"error": last}
    return text
