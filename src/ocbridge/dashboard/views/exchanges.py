"""The exchange log: filtered list (keyset pages), one Exchange in detail, and a streaming CSV export."""

from __future__ import annotations

import csv

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone

from ocbridge.core import access, clock
from ocbridge.core.models import Exchange, Store
from ocbridge.dashboard import l10n
from ocbridge.dashboard.filters import exchange_queryset
from ocbridge.dashboard.tables import table_page
from ocbridge.dashboard.forms import ExchangeFilterForm

CSV_COLUMNS = ("id", "created", "level", "service", "direction", "purpose", "store", "connection", "job", "order_id",
               "method", "url", "status", "duration_ms", "outcome", "error", "key", "request_body", "response_body")
CSV_MAX_ROWS = 200_000  # a bigger export is a sign the filter is wrong; the time range bounds it anyway


def _page_zone(request):
    """The filtered store's time zone (else the active one): the From/To fields are read and shown in it."""
    value = request.GET.get("store", "")
    return l10n.zone(access.scoped(Store, request.user).filter(pk=int(value)).first() if value.isdigit() else None)


@login_required
def exchange_list(request) -> HttpResponse:
    tz = _page_zone(request)
    with timezone.override(tz):
        form = ExchangeFilterForm(request.GET or None, user=request.user)
        qs, start, end = exchange_queryset(form, request.user)
        page = table_page(qs.select_related("store").defer(*LIST_DEFERRED), request.GET, sorts=SORTS,
                          default=DEFAULT_SORT)
        _label(page.rows)
        return render(request, "dashboard/exchanges/list.html", {
            "form": form, "page": page, "start": start, "end": end, "zone": l10n.zone_name(tz), "nav": "log"})


# What the list does not show: the bodies and headers (up to their size cap each) and the store's secrets (each
# decrypted as its row was read: 50 decryptions a page).
LIST_DEFERRED = ("request_headers", "request_body", "response_headers", "response_body", "store__secret")


def _label(rows: list) -> None:
    """Each row's level, service and direction in words, looked up once a page: get_FOO_display() translated
    every label of the field's choices on each call (three calls a row)."""
    labels = {name: {value: str(label) for value, label in Exchange._meta.get_field(name).flatchoices}
              for name in ("level", "service", "direction")}
    for ex in rows:
        for name, words in labels.items():
            value = getattr(ex, name)
            setattr(ex, f"{name}_label", words.get(value, value))


# Newest first by time: the created, (store|service|level, created) indexes serve the range and this order at
# once (ordered by id, the week of a big log was read and sorted for each page).
DEFAULT_SORT = "-created"
SORTS = {"id": "id", "created": "created", "level": "level", "service": "service", "status": "status",
         "order": "order_id"}


@login_required
def exchange_detail(request, pk: int) -> HttpResponse:
    ex = access.get_scoped(Exchange.objects.select_related("store", "connection", "job"), request.user, pk=pk)
    return render(request, "dashboard/exchanges/detail.html", {"ex": ex, "nav": "log"})


class _Echo:
    """A file-like object whose write() returns the line, so csv.writer can feed a streaming response."""

    def write(self, value: str) -> str:
        return value


def _cell(value) -> str:
    text = "" if value is None else str(value)
    # A cell starting with = + - @ is run as a formula by spreadsheets (CSV injection): make it plain text.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


SEPARATORS = {"comma": ",", "semicolon": ";", "tab": "\t"}


def csv_separator(request) -> str:
    """`?sep=comma|semicolon|tab`, else the reader's spreadsheet default: ";" where the decimal mark is a comma
    (Turkish and Russian Excel split on ";"), "," in English."""
    from django.utils import formats

    chosen = SEPARATORS.get(request.GET.get("sep", ""))
    if chosen:
        return chosen
    return ";" if formats.get_format("DECIMAL_SEPARATOR") == "," else ","


def _rows(qs, delimiter: str = ","):
    writer = csv.writer(_Echo(), delimiter=delimiter)
    yield "\ufeff" + writer.writerow(CSV_COLUMNS)  # BOM: Excel then reads UTF-8 (Turkish, Cyrillic) correctly
    fields = [c for c in CSV_COLUMNS if c not in ("store", "connection", "job")] + ["store_id", "connection_id", "job_id"]
    for row in qs.order_by("-created", "-pk").values(*fields)[:CSV_MAX_ROWS].iterator(chunk_size=500):
        row["store"], row["connection"], row["job"] = row.pop("store_id"), row.pop("connection_id"), row.pop("job_id")
        row["created"] = timezone.localtime(row["created"]).isoformat() if row["created"] else ""
        yield writer.writerow([_cell(row[c]) for c in CSV_COLUMNS])


@login_required
def exchange_csv(request) -> StreamingHttpResponse:
    with timezone.override(_page_zone(request)):
        form = ExchangeFilterForm(request.GET or None, user=request.user)
        qs, _start, _end = exchange_queryset(form, request.user)
    response = StreamingHttpResponse(_rows(qs, csv_separator(request)), content_type="text/csv; charset=utf-8")
    name = f"ocbridge-exchanges-{clock.now():%Y%m%d-%H%M}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
