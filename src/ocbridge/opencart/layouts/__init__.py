"""Table layouts of OpenCart 2.3, 3.0 and 4.0 (only the tables the hub uses), for MariaDB/MySQL and SQLite."""

from __future__ import annotations

from sqlalchemy import MetaData

from ocbridge.opencart.layouts import v23, v30, v40
from ocbridge.opencart.layouts._types import C, Str, table

# Layout names: what version.detect() returns, mapped to the schema we know for it.
LAYOUTS = ("2.3", "3.0", "4.0.0", "4.0")
_ALIASES = {"2.3": "2.3", "3.0": "3.0", "4.0": "4.0", "4.0.2": "4.0", "4.0.0": "4.0.0", "4.0.1": "4.0.0"}


def layout_name(version: str) -> str:
    """Canonical layout for a version string ("4.0.2" → "4.0"); ValueError names the ones we know."""
    try:
        return _ALIASES[version]
    except KeyError:
        raise ValueError(f"unknown OpenCart layout {version!r}; known: {', '.join(sorted(_ALIASES))}") from None


def metadata_for(version: str, prefix: str = "oc_") -> MetaData:
    """SQLAlchemy tables for one OpenCart version with table names `prefix + name` (e.g. `oc_order`)."""
    name = layout_name(version)
    md = MetaData(info={"opencart_version": name, "prefix": prefix})
    if name == "2.3":
        v23.define(md, prefix, "utf8")
    elif name == "3.0":
        v30.define(md, prefix, "utf8")
    else:
        v40.define(md, prefix, "utf8mb4")
        if name == "4.0.0":
            _add_40x_codes(md, prefix)
    return md


def _add_40x_codes(md: MetaData, prefix: str) -> None:
    """4.0.0.0–4.0.1.x still had varchar payment/shipping codes next to the (then varchar) method names."""
    from sqlalchemy import Column

    order = md.tables[prefix + "order"]
    for col in ("payment_code", "shipping_code"):
        spec = C(col, Str(128))
        order.append_column(Column(spec.name, spec.type, nullable=False, autoincrement=False))


def short_name(table_name: str, prefix: str) -> str:
    return table_name[len(prefix):] if prefix and table_name.startswith(prefix) else table_name


__all__ = ["LAYOUTS", "layout_name", "metadata_for", "short_name", "table"]
