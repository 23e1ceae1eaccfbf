"""Stores in bulk: `ocbridge store import stores.csv` and the same upload on the dashboard.

One row per store (CSV with a header line, or a JSON list of objects) with the fields of `store add`: name, db_host,
db_port, db_user, db_password, db_name (or db_url), db_tls_verify or db_tls_required (yes/no) and db_tls_ca (a
private CA's certificate, PEM), prefix, store_id, api_url, api_user, api_key, and optional
timezone, country, language, currency overrides and a template (a store's number or name). Each row is checked like
`store add` does — the database answers, its version, the prefix's tables, write permission, the API login —, and a
shop already connected (same host, port, database, prefix and store id) is reported as already there, so running
the same file again adds nothing twice. A row is saved in one transaction with what its template brings: the
template's provider accounts are shared with the new store (Connection.shared_with) and its features are copied
with their settings (a feature may copy more through `IntegrationInfo.extras["copy_from"]`, e.g. the COD channel
plan) — all or nothing per row. The report says per line what was added, what was there already and what was
refused and why.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass

from django.db import transaction

from ocbridge.core import clock
from ocbridge.core.errors import ConfigurationError
from ocbridge.core.models import AuditEntry, Connection, Integration, Store
from ocbridge.core.shop_database import CHARSETS, DEFAULT_CHARSET, DEFAULT_PORT, ShopDatabase

FIELDS = ("name", "db_url", "db_host", "db_port", "db_user", "db_password", "db_name", "db_charset", "db_tls_verify",
          "db_tls_required", "db_tls_ca", "prefix", "store_id", "api_url", "api_user", "api_key", "timezone", "country", "language",
          "currency", "template")
YES, NO = ("yes", "true", "1", "on", "y"), ("no", "false", "0", "off", "n", "")
MAX_ROWS = 2000
ADDED, EXISTS, REFUSED, CHECKED = "added", "exists", "refused", "checked"


class ImportFileError(ValueError):
    """The file as a whole cannot be read (not CSV/JSON, unknown columns, too many rows)."""


@dataclass
class RowResult:
    line: int  # the row's line in a CSV file (1 = header), or its 1-based position in a JSON list
    name: str
    outcome: str  # added | exists | refused | checked (a dry run found nothing wrong)
    message: str
    store_id: int | None = None


def read_rows(data: bytes, filename: str = "") -> list[tuple[int, dict]]:
    """(line, fields) per row; ImportFileError saying what is wrong with the file."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportFileError("the file is not UTF-8 text") from None
    stripped = text.lstrip()
    if filename.lower().endswith(".json") or stripped.startswith(("[", "{")):
        try:
            items = json.loads(text)
        except ValueError as exc:
            raise ImportFileError(f"not valid JSON: {exc}") from None
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise ImportFileError("the JSON must be a list of objects, one per store")
        rows = [(n, {str(k).strip().lower(): v for k, v in item.items()}) for n, item in enumerate(items, 1)]
    else:
        try:
            dialect = csv.Sniffer().sniff(text.splitlines()[0] if text else "", delimiters=",;\t")
        except csv.Error:
            dialect = csv.excel
        reader = csv.DictReader(io.StringIO(text), dialect=dialect)
        if not reader.fieldnames:
            raise ImportFileError("the file is empty: the first line must name the columns")
        reader.fieldnames = [(f or "").strip().lower() for f in reader.fieldnames]
        rows = [(reader.line_num, row) for row in reader if any((v or "").strip() for v in row.values() if
                                                                 isinstance(v, str))]
    unknown = sorted({k for _n, row in rows for k in row if k not in FIELDS and k})
    if unknown:
        raise ImportFileError(f"unknown columns: {', '.join(unknown)} (known: {', '.join(FIELDS)})")
    if len(rows) > MAX_ROWS:
        raise ImportFileError(f"{len(rows)} rows: import at most {MAX_ROWS} at a time")
    return [(n, {k: ("" if v is None else str(v)).strip() for k, v in row.items() if k}) for n, row in rows]


def build_store(fields: dict) -> Store:
    """A Store (unsaved) from `store add`'s fields; ConfigurationError saying which field is wrong."""
    name = fields.get("name", "").strip()
    if not name:
        raise ConfigurationError("the name is missing")
    store = Store(name=name[:100], table_prefix=fields.get("prefix", "oc_") if "prefix" in fields else "oc_",
                  oc_store_id=_int(fields.get("store_id") or "0", "store_id"), api_url=fields.get("api_url", ""),
                  api_username=fields.get("api_user", ""))
    if fields.get("api_key"):
        store.secret = {"api_key": fields["api_key"]}
    # TLS as `store add --db-tls-verify [--db-tls-ca]` and the store form: required and verified, optionally against
    # the store's own CA (PEM in the cell); checked by ShopDatabase.validate below, as there.
    store.db_tls_verify = _yes(fields.get("db_tls_verify", ""), "db_tls_verify")
    store.db_tls_required = _yes(fields.get("db_tls_required", ""), "db_tls_required")
    store.db_tls_ca = fields.get("db_tls_ca", "").strip()
    if fields.get("db_url"):
        if fields.get("db_host") or fields.get("db_name"):
            raise ConfigurationError("give either db_url or the db_ fields, not both")
        store.db_url = fields["db_url"]
        store.shop_database.validate()
    else:
        if not fields.get("db_host") or not fields.get("db_name"):
            raise ConfigurationError("db_host and db_name are needed (or db_url)")
        charset = fields.get("db_charset") or DEFAULT_CHARSET
        if charset not in CHARSETS:
            raise ConfigurationError(f"db_charset must be one of {', '.join(CHARSETS)}")
        db = ShopDatabase(host=fields["db_host"], port=_int(fields.get("db_port") or str(DEFAULT_PORT), "db_port"),
                          user=fields.get("db_user", ""), password=fields.get("db_password", ""),
                          database=fields["db_name"], charset=charset, tls_verify=store.db_tls_verify,
                          tls_ca=store.db_tls_ca, tls_required=store.db_tls_required)
        db.validate()
        store.db_host, store.db_port, store.db_user, store.db_name = db.host, db.port, db.user, db.database
        store.db_charset = charset
        if db.password:
            store.secret = {**store.secret, "db_password": db.password}
    return store


def _yes(value: str, field: str) -> bool:
    word = value.strip().lower()
    if word not in YES + NO:
        raise ConfigurationError(f"{field} must be yes or no, not {value!r}")
    return word in YES


def _int(value: str, field: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ConfigurationError(f"{field} must be a number, not {value!r}") from None


def apply_profile(store: Store, result: dict, fields: dict) -> None:
    """What the shop says about itself, unless the row overrides it."""
    prof = result.get("profile")
    store.timezone = fields.get("timezone") or (prof and prof.timezone) or store.timezone
    store.country = (fields.get("country") or (prof and prof.country) or store.country).upper()
    store.language = fields.get("language") or (prof and prof.language) or store.language
    store.currency = (fields.get("currency") or (prof and prof.currency) or store.currency).upper()
    store.version = result.get("version", "")


def find_template(ref: str) -> Store | None:
    ref = (ref or "").strip()
    if not ref:
        return None
    found = Store.objects.filter(pk=int(ref)).first() if ref.isdigit() else Store.objects.filter(name=ref).first()
    if found is None:
        raise ConfigurationError(f"no template store {ref!r}")
    return found


def copy_template(template: Store, store: Store) -> list[str]:
    """Share the template's accounts with `store` and copy its features; what was brought, in words."""
    from ocbridge.core.registry import integrations as infos

    brought = []
    for conn in Connection.objects.filter(store=template).order_by("pk"):  # a switched-off one stays off
        conn.shared_with.add(store)
        brought.append(str(conn))
    for src in Integration.objects.filter(store=template).order_by("pk"):
        dst = Integration.objects.create(store=store, kind=src.kind, settings=dict(src.settings or {}),
                                         enabled=src.enabled, connection=src.connection)
        copy_from = (infos.get(src.kind).extras if infos.get(src.kind) else {}).get("copy_from")
        if copy_from is not None:
            copy_from(src, dst)
        brought.append(src.kind)
    return brought


def import_rows(rows: list[tuple[int, dict]], *, template: str = "", dry_run: bool = False,
                allow_unreachable: bool = False, user: str = "") -> list[RowResult]:
    """Check and add each row on its own (see the module docstring); the report, in the file's order."""
    from ocbridge import opencart

    out, seen = [], {}
    for line, fields in rows:
        name = fields.get("name", "")
        try:
            store = build_store(fields)
            tpl = find_template(fields.get("template") or template)
        except ConfigurationError as exc:
            out.append(RowResult(line, name, REFUSED, str(exc)))
            continue
        ident = (store.shop_identity.key, store.oc_store_id)
        if ident in seen:
            out.append(RowResult(line, name, REFUSED, f"the same shop database, prefix and store id as line "
                                                      f"{seen[ident]}"))
            continue
        seen[ident] = line
        clash = store.identity_clash()
        if clash is not None:
            out.append(RowResult(line, name, EXISTS, f"already connected as store #{clash.pk} “{clash.name}”",
                                 clash.pk))
            continue
        result = opencart.check_store(store)
        if not result["ok"] and not (allow_unreachable and "profile" not in result):
            out.append(RowResult(line, name, REFUSED, result["message"]))
            continue
        apply_profile(store, result, fields)
        if dry_run:
            out.append(RowResult(line, name, CHECKED, result["message"]))
            continue
        try:
            with transaction.atomic():
                store.save()
                brought = copy_template(tpl, store) if tpl else []
                AuditEntry.objects.create(created=clock.now(), user=user or "import", action="store.import",
                                          store=store, object_type="store", object_id=str(store.pk),
                                          data={"line": line, "template": tpl.pk if tpl else None, "brought": brought})
        except Exception as exc:  # nothing of the row stays; the next rows go on
            out.append(RowResult(line, name, REFUSED, f"not saved: {exc}"))
            continue
        note = result["message"] if "profile" in result else f"saved as not reachable yet: {result['message']}"
        if brought:
            note += f" From the template: {', '.join(brought)}."
        out.append(RowResult(line, name, ADDED, note, store.pk))
    return out


def summary(results: list[RowResult]) -> dict[str, int]:
    counts = {ADDED: 0, EXISTS: 0, REFUSED: 0, CHECKED: 0}
    for r in results:
        counts[r.outcome] += 1
    return counts
