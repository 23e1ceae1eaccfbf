"""What changes from one OpenCart layout to the next, spelled out: any other difference is a layout mistake."""

import pytest
from sqlalchemy.dialects import mysql

from ocbridge.opencart.layouts import metadata_for, short_name

_MY = mysql.dialect()

# (older, newer) -> table -> (columns added, columns removed, columns retyped / re-defaulted / re-nulled)
CHANGES = {
    ("2.3", "3.0"): {
        "setting": ([], [], ["code", "key"]),
        "customer": ([], ["approved"], []),
        "currency": ([], [], ["value"]),
        "api": (["username"], ["name"], []),
        "api_session": ([], ["token", "session_name"], []),
    },
    ("3.0", "4.0"): {
        "order": (["subscription_id", "transaction_id", "payment_address_id", "shipping_address_id", "language_code"],
                  ["fax", "payment_code", "shipping_code"], ["payment_method", "shipping_company", "shipping_method"]),
        "order_product": (["master_id"], [], []),
        "order_total": (["extension"], [], []),
        "language": (["extension"], ["image", "directory"], []),
        "setting": ([], [], ["serialized"]),
        "store": ([], ["ssl"], []),
        "customer": ([], ["fax", "salt", "cart", "wishlist", "address_id"], ["password"]),
        "product": (["master_id", "variant", "override", "rating"], ["viewed"], ["image", "date_available"]),
        "product_image": ([], [], ["image"]),
        "product_special": ([], [], ["date_start", "date_end"]),
        "product_discount": ([], [], ["date_start", "date_end"]),
        "category": ([], [], ["image"]),
        "manufacturer": ([], [], ["image"]),
        "category_to_store": ([], [], ["store_id"]),  # 4.0 db_schema gives store_id default 0
        "currency": ([], [], ["decimal_place"]),
        "country": (["address_format_id"], ["address_format"], []),
        "coupon": ([], [], ["date_start", "date_end", "uses_customer"]),  # no zero-date default; int uses_customer
    },
    ("4.0", "4.0.0"): {"order": (["payment_code", "shipping_code"], [], [])},
}


def _columns(version):
    def spec(c):
        default = c.server_default.arg if c.server_default is not None else None
        return c.type.dialect_impl(_MY).compile(dialect=_MY), c.nullable, default, c.autoincrement

    return {short_name(t.name, "oc_"): {c.name: spec(c) for c in t.columns}
            for t in metadata_for(version).tables.values()}


@pytest.mark.parametrize("older,newer", list(CHANGES))
def test_column_changes_between_layouts(older, newer):
    a, b = _columns(older), _columns(newer)
    found = {}
    for name in a.keys() & b.keys():
        added = [c for c in b[name] if c not in a[name]]
        removed = [c for c in a[name] if c not in b[name]]
        changed = [c for c in a[name] if c in b[name] and a[name][c] != b[name][c]]
        if added or removed or changed:
            found[name] = (added, removed, changed)
    assert found == CHANGES[(older, newer)]


def test_tables_engines_and_keys_per_layout():
    layouts = {v: metadata_for(v) for v in ("2.3", "3.0", "4.0.0", "4.0")}
    names = {v: [short_name(t, "oc_") for t in md.tables] for v, md in layouts.items()}
    # the database session table arrived with 3.0, affiliates moved into customer tables with it; everything else
    # is in every layout, in the same order
    assert names["3.0"] == names["4.0"] == names["4.0.0"]
    assert names["2.3"] == [n for n in names["3.0"] if n != "session"] + ["affiliate_transaction"]
    for v, md in layouts.items():
        for t in md.tables.values():
            innodb = v.startswith("4.") or t.name == "oc_session"
            assert t.dialect_kwargs["mysql_engine"] == ("InnoDB" if innodb else "MyISAM"), (v, t.name)
            assert t.dialect_kwargs["mysql_charset"] == ("utf8mb4" if v.startswith("4.") else "utf8"), (v, t.name)

    def keys(v, table):
        return {ix.name for ix in layouts[v].tables["oc_" + table].indexes}

    assert keys("2.3", "order_product") == set() and keys("3.0", "order_product") == {"order_id"}
    assert keys("3.0", "session") == set() and keys("4.0", "session") == {"expire"}
    for table in set(names["2.3"]) - {"order_product", "affiliate_transaction"}:
        assert keys("2.3", table) == keys("3.0", table) == keys("4.0", table), table
