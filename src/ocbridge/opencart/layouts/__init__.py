"""Table layouts of OpenCart 2.3, 3.0 and 4.0 (only the tables the hub uses), for MariaDB/MySQL and SQLite."""

from __future__ import annotations

import functools

from sqlalchemy import MetaData

from ocbridge.opencart.layouts import orders, shop, totals
from ocbridge.opencart.layouts._types import table

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
    """SQLAlchemy tables for one OpenCart version with table names `prefix + name` (e.g. `oc_order`), one set per
    layout and prefix for the whole process: a thousand shops share a few (they are definitions only, never bound
    to a shop; each shop's own copy cost time at its first poll and memory for as long as the hub ran).

    The differences between versions are written next to each table in `orders` and `shop`; across the whole
    schema, 2.3 and 3.0 use MyISAM tables in utf8, 4.0 InnoDB tables in utf8mb4.
    """
    return _metadata(layout_name(version), prefix)


@functools.cache
def _metadata(name: str, prefix: str) -> MetaData:
    md = MetaData(info={"opencart_version": name, "prefix": prefix})
    oc4 = name.startswith("4.")
    engine, charset = ("InnoDB", "utf8mb4") if oc4 else ("MyISAM", "utf8")
    orders.define(md, prefix, name, engine, charset)
    shop.define(md, prefix, name, engine, charset)
    totals.define(md, prefix, name, engine, charset)
    return md


def short_name(table_name: str, prefix: str) -> str:
    return table_name[len(prefix):] if prefix and table_name.startswith(prefix) else table_name


__all__ = ["LAYOUTS", "layout_name", "metadata_for", "short_name", "table"]
