"""Our table layouts, installed on a live MariaDB, match their own definitions and OpenCart's key facts."""

import pytest
import sqlalchemy as sa

from ocbridge.opencart.layouts import metadata_for

VERSIONS = ["2.3", "3.0", "4.0"]


@pytest.mark.parametrize("version", VERSIONS)
def test_installed_tables_match_layout(opencart_db, version):
    h = opencart_db(version)
    md = metadata_for(version, "oc_")
    insp = sa.inspect(h.engine)
    dialect = h.engine.dialect
    for table in md.tables.values():
        cols = {c["name"]: c for c in insp.get_columns(table.name)}
        assert list(cols) == [c.name for c in table.columns], table.name
        for c in table.columns:
            live = cols[c.name]
            ours = c.type.dialect_impl(dialect).compile(dialect=dialect)
            assert live["type"].compile(dialect=dialect).replace(" ", "") == ours.replace(" ", ""), (table.name, c.name)
            assert live["nullable"] == c.nullable, (table.name, c.name)
            assert (live["default"] is None) == (c.server_default is None), (table.name, c.name)
        pk = insp.get_pk_constraint(table.name)["constrained_columns"]
        assert pk == [c.name for c in table.primary_key.columns], table.name
        keys = {ix["name"]: ix["column_names"] for ix in insp.get_indexes(table.name)}
        assert keys == {ix.name: [c.name for c in ix.columns] for ix in table.indexes}, table.name


@pytest.mark.parametrize("version", VERSIONS)
def test_key_facts_of_real_installs(opencart_db, version):
    h = opencart_db(version)
    insp = sa.inspect(h.engine)

    def indexed(table):
        return {c for ix in insp.get_indexes("oc_" + table) for c in ix["column_names"]}

    # order has PRIMARY only: nothing on telephone, email, status, store or dates (opencart.md §1.2)
    assert indexed("order") == set()
    assert indexed("order_history") == set()
    assert indexed("order_option") == set()
    assert indexed("order_total") == {"order_id"}
    assert indexed("order_product") == (set() if version == "2.3" else {"order_id"})
    assert indexed("product") == set()
    assert insp.get_pk_constraint("oc_order_status")["constrained_columns"] == ["order_status_id", "language_id"]
    cols = {c["name"] for c in insp.get_columns("oc_order")}
    assert ("payment_code" in cols) == (version != "4.0")
    assert ("fax" in cols) == (version != "4.0")
    api_cols = {c["name"] for c in insp.get_columns("oc_api")}
    assert ("name" in api_cols) == (version == "2.3")


@pytest.mark.parametrize("version,engine,charset", [("2.3", "MyISAM", "utf8"), ("3.0", "MyISAM", "utf8"),
                                                     ("4.0", "InnoDB", "utf8mb4")])
def test_engine_and_charset(opencart_db, version, engine, charset):
    h = opencart_db(version)
    with h.engine.connect() as conn:
        row = conn.execute(sa.text("SELECT ENGINE, TABLE_COLLATION FROM information_schema.TABLES "
                                   "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'oc_order'")).one()
    assert row[0] == engine
    assert row[1].replace("utf8mb3", "utf8") == f"{charset}_general_ci"


@pytest.mark.parametrize("version", ["2.3", "3.0", "4.0", "4.0.0"])
def test_every_layout_creates_on_sqlite(opencart_sqlite, version):
    h = opencart_sqlite(version)
    with h.engine.connect() as conn:
        names = conn.execute(sa.text("SELECT name FROM oc_order_status WHERE language_id = 2 ORDER BY order_status_id")).scalars().all()
    assert names[0] == "Beklemede" and len(names) == 14


def test_reference_data_has_three_languages_and_settings(opencart_db):
    h = opencart_db("3.0")
    with h.engine.connect() as conn:
        langs = dict(conn.execute(sa.text("SELECT language_id, code FROM oc_language")).all())
        settings = dict(conn.execute(sa.text("SELECT `key`, value FROM oc_setting WHERE store_id = 0")).all())
        ru = conn.execute(sa.text("SELECT name FROM oc_order_status WHERE order_status_id = 7 AND language_id = 3")).scalar()
    assert langs == {1: "en-gb", 2: "tr-tr", 3: "ru-ru"}
    assert settings["config_processing_status"] == '["5", "1", "2", "12", "3"]'
    assert {"config_name", "config_timezone", "config_complete_status", "config_language", "config_currency",
            "config_api_id"} <= set(settings)
    assert ru == "Отменён"
