"""The journaled product write (opencart.writes.upsert_product) on the MariaDB testbed, per OpenCart layout.

Rows are compared with what OpenCart's own admin model writes for the same form input
(admin/model/catalog/product.php addProduct/editProduct of 2.3.0.2, 3.0.3.9 and 4.0.2.3 — derived from that code,
not captured from a running shop).
"""

from decimal import Decimal

import pytest
import sqlalchemy as sa

from ocbridge.core.errors import TerminalError
from ocbridge.opencart import writes
from ocbridge.opencart.models import ShopWrite
from ocbridge.opencart.writes import Attribute, ProductDraft, Text

from opencart.opencart_helpers import add_product
from opencart.writes_helpers import Crash, crash_at, make_store, set_setting  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db
VERSIONS = ["2.3", "3.0", "4.0"]
PRODUCT_TABLES = ("product", "product_description", "product_to_store", "product_to_category", "product_attribute",
                  "product_image", "manufacturer", "manufacturer_to_store", "attribute", "attribute_description",
                  "attribute_group", "attribute_group_description")


def draft(**kw):
    base = dict(
        model="OZ-100", sku="OZ-100", price=Decimal("1299.90"), quantity=7, status=True,
        texts={2: Text("Kupa <Büyük> & \"mavi\"", "<p>Seramik kupa</p>"), 3: Text("Кружка большая", "<p>Кружка</p>")},
        category_ids=[20, 20, 28], manufacturer="Acme & Co",
        attributes=[Attribute({2: "Renk", 3: "Цвет"}, {2: "Mavi", 3: "Синий"}),
                    Attribute({2: "Hacim", 3: "Объём"}, {2: "350 ml"})],
        attribute_group={2: "Ozon", 3: "Ozon"}, images=["catalog/ozon/oz-100-1.jpg", "catalog/ozon/oz-100-2.jpg"])
    base.update(kw)
    return ProductDraft(**base)


def rows(h, table, product_id=None):
    t = h.t(table)
    stmt = sa.select(t)
    if product_id is not None and "product_id" in t.c:
        stmt = stmt.where(t.c.product_id == product_id)
    with h.engine.connect() as conn:
        return sorted(tuple(r) for r in conn.execute(stmt))


def snapshot(h):
    """Every product-side row, without the columns a clock changes, ids renumbered in order: InnoDB does not
    reuse the AUTO_INCREMENT values of a rolled-back transaction, and a step run again replaces its rows (as the
    admin's editProduct does), so only the rows' content and links must be equal."""
    ids = {"product_id": "product", "manufacturer_id": "manufacturer", "attribute_id": "attribute",
           "attribute_group_id": "attribute_group"}
    renumber = {}
    with h.engine.connect() as conn:
        for col, name in ids.items():
            t = h.t(name)
            renumber[col] = {v: i for i, v in enumerate(conn.execute(sa.select(t.c[col]).order_by(t.c[col])).scalars(), 1)}
        out = {}
        for name in PRODUCT_TABLES:
            t = h.t(name)
            cols = [c for c in t.c if c.name not in ("date_added", "date_modified", "date_available", "product_image_id")]
            out[name] = sorted(tuple(renumber[c.name].get(v, v) if c.name in renumber else v for c, v in zip(cols, r))
                               for r in conn.execute(sa.select(*cols)))
    return out


@pytest.mark.parametrize("version", VERSIONS)
def test_created_product_has_every_row_the_admin_form_saves(opencart_db, version):
    h = opencart_db(version)
    set_setting(h, "config_stock_status_id", 7)
    set_setting(h, "config_weight_class_id", 1)
    set_setting(h, "config_length_class_id", 1)
    store = make_store(h)
    r = writes.upsert_product(store, draft(), key="p1")
    assert r.created and not r.repeated
    pid = r.product_id
    with h.engine.connect() as conn:
        p = conn.execute(sa.select(h.t("product")).where(h.t("product").c.product_id == pid)).one()._mapping
    assert (p["model"], p["sku"], p["price"], p["quantity"], p["status"]) == ("OZ-100", "OZ-100", Decimal("1299.9000"), 7, 1)
    # the form's defaults: minimum 1, subtract, shipping, the shop's stock status and units, no tax class
    assert (p["minimum"], p["subtract"], p["shipping"], p["stock_status_id"], p["tax_class_id"]) == (1, 1, 1, 7, 0)
    assert (p["weight_class_id"], p["length_class_id"], p["image"]) == (1, 1, "catalog/ozon/oz-100-1.jpg")
    assert p["date_available"] is not None and p["date_added"] is not None
    # a description row in every shop language: en (1) falls back to the shop language (tr-tr), text escaped
    names = {r[1]: r[2] for r in rows(h, "product_description", pid)}
    assert names == {1: "Kupa &lt;Büyük&gt; &amp; &quot;mavi&quot;", 2: "Kupa &lt;Büyük&gt; &amp; &quot;mavi&quot;",
                     3: "Кружка большая"}
    desc = {r[1]: (r[3], r[5]) for r in rows(h, "product_description", pid)}
    assert desc[2] == ("&lt;p&gt;Seramik kupa&lt;/p&gt;", "Kupa &lt;Büyük&gt; &amp; &quot;mavi&quot;")  # meta_title = name
    assert rows(h, "product_to_store", pid) == [(pid, 0)]
    assert rows(h, "product_to_category", pid) == [(pid, 20), (pid, 28)]
    assert [r[2] for r in rows(h, "product_image", pid)] == ["catalog/ozon/oz-100-2.jpg"]
    (maker,) = rows(h, "manufacturer")
    assert (maker[1], p["manufacturer_id"]) == ("Acme &amp; Co", maker[0])
    assert rows(h, "manufacturer_to_store") == [(maker[0], 0)]
    (group,) = rows(h, "attribute_group_description")[:1]
    attr_names = {(r[1], r[2]) for r in rows(h, "attribute_description")}
    assert {"Renk", "Цвет", "Hacim", "Объём"} <= {n for _, n in attr_names}
    assert len(rows(h, "attribute")) == 2 and all(a[1] == group[0] for a in rows(h, "attribute"))
    texts = {(r[1], r[2]): r[3] for r in rows(h, "product_attribute", pid)}
    renk = next(r[0] for r in rows(h, "attribute_description") if r[2] == "Renk")
    hacim = next(r[0] for r in rows(h, "attribute_description") if r[2] == "Hacim")
    assert texts[(renk, 3)] == "Синий" and texts[(renk, 1)] == "Mavi"
    assert texts[(hacim, 3)] == "350 ml"  # one language given: every language shows it
    # the same key again: answered from the journal, no second product
    again = writes.upsert_product(store, draft(), key="p1")
    assert (again.product_id, again.repeated) == (pid, True)
    assert len(rows(h, "product")) == 1


@pytest.mark.parametrize("version", ["3.0", "4.0"])
def test_existing_manufacturer_and_attributes_are_found_by_name(opencart_db, version):
    h = opencart_db(version)
    store = make_store(h)
    first = writes.upsert_product(store, draft(), key="a")
    second = writes.upsert_product(store, draft(model="OZ-200", manufacturer="Acme & Co",
                                                attributes=[Attribute({3: "Цвет"}, {3: "Красный"})]), key="b")
    assert first.product_id != second.product_id
    assert len(rows(h, "manufacturer")) == 1 and len(rows(h, "attribute")) == 2
    assert len(rows(h, "attribute_group")) == 1
    renk = next(r[0] for r in rows(h, "attribute_description") if r[2] == "Цвет")
    assert {r[1] for r in rows(h, "product_attribute", second.product_id)} == {renk}


@pytest.mark.parametrize("version", VERSIONS)
def test_update_changes_what_the_draft_gives_and_leaves_the_rest(opencart_db, version):
    h = opencart_db(version)
    store = make_store(h)
    pid = writes.upsert_product(store, draft(), key="create").product_id
    with h.engine.begin() as conn:  # the owner added an English name in the admin meanwhile
        pd = h.t("product_description")
        conn.execute(sa.update(pd).where(pd.c.product_id == pid, pd.c.language_id == 1).values(name="Big mug"))
    upd = ProductDraft(model="OZ-100", texts={3: Text("Кружка XL")}, price=Decimal("999"), category_ids=[28])
    r = writes.upsert_product(store, upd, key="update-1", product_id=pid)
    assert (r.product_id, r.created) == (pid, False)
    names = {row[1]: row[2] for row in rows(h, "product_description", pid)}
    assert names == {1: "Big mug", 2: "Kupa &lt;Büyük&gt; &amp; &quot;mavi&quot;", 3: "Кружка XL"}
    assert rows(h, "product_to_category", pid) == [(pid, 28)]
    with h.engine.connect() as conn:
        p = conn.execute(sa.select(h.t("product")).where(h.t("product").c.product_id == pid)).one()._mapping
    assert (p["price"], p["quantity"], p["image"]) == (Decimal("999.0000"), 7, "catalog/ozon/oz-100-1.jpg")
    assert len(rows(h, "product_attribute", pid)) == 6 and len(rows(h, "product_image", pid)) == 1


@pytest.mark.parametrize("version", ["3.0", "4.0"])  # MyISAM step by step, InnoDB one transaction
def test_update_of_a_missing_product_fails_with_the_reason_and_its_journal_says_so(opencart_db, version):
    h = opencart_db(version)
    store = make_store(h)
    with pytest.raises(TerminalError, match="Product 404 does not exist"):
        writes.upsert_product(store, ProductDraft(model="X", texts={}, price=Decimal(1)), key="u", product_id=404)
    row = ShopWrite.objects.get(key="u")
    assert (row.state, row.error) == ("failed", "Product 404 does not exist.")  # not "running" for ever
    with pytest.raises(TerminalError, match="Product 404 does not exist"):  # asked again: tried again, failed again
        writes.upsert_product(store, ProductDraft(model="X", texts={}, price=Decimal(1)), key="u", product_id=404)
    row.refresh_from_db()
    assert (row.state, row.attempts) == ("failed", 2) and rows(h, "product") == []


def test_a_step_the_shop_refuses_mid_write_fails_its_journal_with_the_reason(opencart_db):
    h = opencart_db("3.0")
    store = make_store(h)
    with pytest.raises(TerminalError, match="An attribute has no name"):
        writes.upsert_product(store, draft(attributes=[Attribute({2: " "}, {2: "x"})]), key="a")
    row = ShopWrite.objects.get(key="a")
    assert (row.state, row.error) == ("failed", "An attribute has no name.") and rows(h, "product") == []


@pytest.mark.parametrize("bad,why", [
    (dict(model=""), "model must be 1 to 64"), (dict(model="M" * 65), "model must be 1 to 64"),
    (dict(texts={}), "has no name"), (dict(texts={2: Text(" ")}), "name in language 2"),
    (dict(price=Decimal("1e30")), "out of range"), (dict(price=Decimal("-1")), "out of range"),
    (dict(price=None), "has no price"),
])
def test_a_draft_the_admin_form_refuses_is_refused_and_nothing_written(opencart_db, bad, why):
    h = opencart_db("3.0")
    store = make_store(h)
    with pytest.raises(TerminalError, match=why):
        writes.upsert_product(store, draft(**bad), key="bad")
    assert rows(h, "product") == [] and ShopWrite.objects.get(key="bad").state == "failed"


def _points(version):
    pts = [(s, w) for s in ("refs", "product", "texts", "stores", "categories", "attributes", "images")
           for w in ("before", "after")]
    return pts + ([("commit", "after")] if version == "4.0" else [])


_CLEAN: dict = {}


@pytest.mark.parametrize("version,step,when", [(v, s, w) for v in ("3.0", "4.0") for s, w in _points(v)])
def test_crash_between_any_two_steps_then_retry_equals_one_clean_write(opencart_db, crash_at, version, step, when):
    def prepare():
        h = opencart_db(version)
        add_product(h, 5)  # someone else's product: never touched
        return h

    if version not in _CLEAN:
        clean = prepare()
        writes.upsert_product(make_store(clean), draft(), key="clean")
        _CLEAN[version] = snapshot(clean)
    h = prepare()
    store = make_store(h)
    crash_at(step, when)
    with pytest.raises(Crash):
        writes.upsert_product(store, draft(), key="w")
    r = writes.upsert_product(store, draft(), key="w")
    assert snapshot(h) == _CLEAN[version]
    assert ShopWrite.objects.get(key="w").state == "done"
    assert [p[0] for p in rows(h, "product") if p[0] != 5] == [r.product_id]
