"""Which OpenCart is this? Detected from the schema (DESIGN: version = features, not numbers)."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ocbridge.core.errors import ConfigurationError


@dataclass(frozen=True)
class VersionInfo:
    """A detected version: the table layout to use and what the native API looks like."""

    layout: str  # "2.3", "3.0", "4.0.0" (4.0.0.0–4.0.1.x) or "4.0" (4.0.2+)
    label: str  # for people: "2.3", "3.0", "4.0.0–4.0.1", "4.0.2+", "4.1+"
    api_supported: bool = True  # 4.1+ uses signed requests we do not speak: database path only
    innodb: bool = False

    @property
    def route_separator(self) -> str:
        """4.0.0–4.0.1 route methods use `|`, 4.0.2+ use `.` (opencart.md T8)."""
        return "|" if self.layout == "4.0.0" else "."

    @property
    def json_payment_method(self) -> bool:
        return self.layout == "4.0"

    @classmethod
    def for_layout(cls, layout: str) -> "VersionInfo":
        labels = {"2.3": "2.3", "3.0": "3.0", "4.0.0": "4.0.0–4.0.1", "4.0": "4.0.2+", "4.0.2": "4.0.2+"}
        if layout not in labels:
            raise ConfigurationError(f"Unknown OpenCart version {layout!r}; supported: 2.3, 3.0, 4.0")
        layout = "4.0" if layout == "4.0.2" else layout
        return cls(layout=layout, label=labels[layout], innodb=layout.startswith("4"))


def detect(engine: Engine, prefix: str) -> VersionInfo:
    """Read table and column names (information_schema / PRAGMA) and decide; refuse what we cannot serve."""
    from ocbridge.opencart.db import classify_db_error

    try:
        insp = sa.inspect(engine)
        tables = set(insp.get_table_names())
    except sa.exc.OperationalError as exc:
        raise classify_db_error(exc) from None
    order = f"{prefix}order"
    if order not in tables:
        found = sorted({t[: -len("order")] for t in tables if t.endswith("order") and f"{t[:-5]}order_product" in tables})
        hint = f" Tables with another prefix exist: {', '.join(repr(p) for p in found)}." if found else (
            " No OpenCart tables were found in this database." if not any(t.endswith("order_status") for t in tables)
            else "")
        raise ConfigurationError(f"No table {order!r}: the table prefix {prefix!r} looks wrong.{hint}")

    def cols(name: str) -> set[str]:
        return {c["name"] for c in insp.get_columns(prefix + name)} if prefix + name in tables else set()

    order_cols = cols("order")
    api_cols = cols("api")
    if "custom_field" not in order_cols or not api_cols or "key" not in api_cols or not cols("setting") >= {"code", "key"}:
        raise ConfigurationError(
            "This OpenCart is older than 2.3 (order.custom_field / api.key / setting.code missing); "
            "ocbridge supports 2.3, 3.0 and 4.0.")
    if "name" in api_cols and "username" not in api_cols:
        return VersionInfo("2.3", "2.3")
    if "fax" in order_cols:
        return VersionInfo("3.0", "3.0")
    # 4.x: 4.1 added an index on order.email (opencart.md §1.2) and replaced the session API by signed requests.
    email_indexed = any("email" in (ix.get("column_names") or []) for ix in insp.get_indexes(order))
    if email_indexed:
        return VersionInfo("4.0", "4.1+", api_supported=False, innodb=True)
    if "payment_code" in order_cols:
        return VersionInfo("4.0.0", "4.0.0–4.0.1", innodb=True)
    return VersionInfo("4.0", "4.0.2+", innodb=True)
