"""Customers' personal data in the hub's own tables: kept for the store's period, then masked in place; found by
phone number to be exported or erased on request (KVKK, GDPR). The shop's own database is never touched.

Each app registers the tables where it keeps names, phone numbers, addresses, customers' words or recording links
(`register(Table(...))`, next to its models): how a row reaches its store, its date, the fields a phone number is
found in, and what each personal field becomes when masked. One job (MaskPersonalData, hourly with housekeeping)
masks rows older than each store's `personal_data_days`; `export()` and `erase()` serve a person's request. Risk
tallies never hold a number at all: they are keyed by `phone_key()`, a keyed hash.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

import phonenumbers
from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.db.models import Q

from ocbridge.core import clock

KEY_PREFIX = "h:"
BATCH = 500


def phone_key(phone: str) -> str:
    """A number's stand-in where only "the same number" matters (risk tallies): HMAC with the hub's secret key, 18 hex
    digits (fits a 20-character phone column). A key given again is returned as it is."""
    if not phone or phone.startswith(KEY_PREFIX):
        return phone
    digest = hmac.new(settings.SECRET_KEY.encode(), phone.encode(), hashlib.sha256).hexdigest()
    return KEY_PREFIX + digest[:18]


def national_digits(e164: str) -> str:
    """The national significant number ("5321234567" of +905321234567): found in a body whatever format it was
    written in (+90…, 90…, 0…)."""
    try:
        return phonenumbers.national_significant_number(phonenumbers.parse(e164))
    except phonenumbers.NumberParseException:
        return e164.lstrip("+")


@dataclass(frozen=True)
class Table:
    """Where one model keeps personal data.

    model: "app_label.ModelName"; created: its date field; store: lookup to the store id; phones: exact-match fields
    holding an E.164 number; texts: fields searched for the number's digits (bodies, URLs); mask: field → the value it
    becomes (or a callable(row) → value, for per-row values); masked: a Q matching rows already masked; export: the
    fields shown in an export; keyed: True when `phones` hold phone_key() values (the tally), erased by deleting.
    """

    model: str
    created: str
    store: str
    mask: dict[str, object]
    masked: Q
    phones: tuple[str, ...] = ()
    texts: tuple[str, ...] = ()
    export: tuple[str, ...] = ()
    keyed: bool = False
    only: Q = field(default_factory=Q)  # rows of the model this entry is about (e.g. SMS attempts only)

    @property
    def model_class(self):
        return apps.get_model(self.model)


TABLES: list[Table] = []


def register(table: Table) -> Table:
    if not any(t.model == table.model and t.only == table.only for t in TABLES):
        TABLES.append(table)
    return table


def _apply(table: Table, rows) -> int:
    """Mask these rows (a queryset) in place, in batches by id (a masked row may still match: never loops);
    returns how many."""
    per_row = {k: v for k, v in table.mask.items() if callable(v)}
    plain = {k: v for k, v in table.mask.items() if not callable(v)}
    n, last = 0, None
    while True:
        page = rows.order_by("pk") if last is None else rows.filter(pk__gt=last).order_by("pk")
        ids = list(page.values_list("pk", flat=True)[:BATCH])
        if not ids:
            return n
        last = ids[-1]
        with transaction.atomic():
            batch = table.model_class._default_manager.filter(pk__in=ids)
            if plain:
                batch.update(**plain)
            for obj in batch if per_row else ():
                for name, fn in per_row.items():
                    setattr(obj, name, fn(obj))
                obj.save(update_fields=list(per_row))
        n += len(ids)


def mask_expired(now=None) -> dict[str, int]:
    """Mask every registered table's rows older than their store's period; {model: rows masked}."""
    from ocbridge.core.models import Store

    now = now or clock.now()
    done: dict[str, int] = {}
    for store_id, days in Store.objects.values_list("pk", "personal_data_days"):
        cutoff = now - timedelta(days=max(1, days or 180))
        for table in TABLES:
            if table.keyed:  # a tally has no plain number to mask; it is erased on request only
                continue
            rows = (table.model_class._default_manager.filter(table.only)
                    .filter(**{table.store: store_id, f"{table.created}__lt": cutoff}).exclude(table.masked))
            n = _apply(table, rows)
            if n:
                done[table.model] = done.get(table.model, 0) + n
    return done


def _rows(table: Table, e164: str, store_ids):
    q = Q()
    for name in table.phones:
        q |= Q(**{name: phone_key(e164) if table.keyed else e164})
    digits = national_digits(e164)
    for name in table.texts:
        q |= Q(**{f"{name}__contains": digits})
    if not q:
        return table.model_class._default_manager.none()
    rows = table.model_class._default_manager.filter(table.only).filter(q)
    return rows if store_ids is None else rows.filter(**{f"{table.store}__in": list(store_ids)})


def export(e164: str, store_ids=None) -> dict[str, list[dict]]:
    """Everything the hub keeps about this number (in these stores; None: all), as plain JSON-able rows."""
    out: dict[str, list[dict]] = {}
    for table in TABLES:
        fields = ["pk", table.created, *table.export]
        found = [{k: _plain(v) for k, v in row.items()} for row in _rows(table, e164, store_ids).values(*fields)]
        if found:
            out.setdefault(table.model, []).extend(found)
    return out


def erase(e164: str, store_ids=None) -> dict[str, int]:
    """Mask every row holding this number (in these stores; None: all) now, whatever its age; tallies are deleted.
    Rows are found in every table first: a table found through another (an attempt through its confirmation) is
    found before that one is masked. {model: rows}."""
    found = [(t, list(_rows(t, e164, store_ids).values_list("pk", flat=True))) for t in TABLES]
    done: dict[str, int] = {}
    for table, ids in found:
        rows = table.model_class._default_manager.filter(pk__in=ids)
        if table.keyed:
            n = rows.delete()[0] if ids else 0
        else:
            n = _apply(table, rows)
        if n:
            done[table.model] = done.get(table.model, 0) + n
    return done


def _plain(value):
    """A value a JSON file can hold (dates as ISO text, amounts as text)."""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def strip_query(url: str) -> str:
    return url.split("?", 1)[0]


def normalize(phone: str, country: str = "TR") -> str:
    """The E.164 form of a number typed on the page or the command line; ValueError when it is not one."""
    try:
        parsed = phonenumbers.parse(phone, country or None)
    except phonenumbers.NumberParseException:
        raise ValueError(f"not a phone number: {phone!r}") from None
    if not phonenumbers.is_possible_number(parsed):
        raise ValueError(f"not a phone number: {phone!r}")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


MASKED = "[removed]"
register(Table(
    model="core.Exchange", created="created", store="store_id",
    mask={"request_body": "", "response_body": "", "url": lambda row: strip_query(row.url)},
    masked=Q(request_body="", response_body="") & ~Q(url__contains="?"),
    texts=("url", "request_body", "response_body"),
    export=("service", "direction", "purpose", "method", "url", "request_body", "response_body", "status")))
register(Table(
    model="core.AuditEntry", created="created", store="store_id", only=Q(data__has_key="address"),
    mask={"data": lambda row: {**row.data, "address": MASKED, "remote": ""}}, masked=Q(data__address=MASKED),
    export=("action", "user", "data")))
register(Table(
    model="core.Job", created="created", store="store_id", only=Q(payload__has_key="address"),
    mask={"payload": lambda row: {**row.payload, "address": MASKED}}, masked=Q(payload__address=MASKED),
    export=("kind", "payload")))
