"""The journaled option write (opencart.writes.upsert_option) and a product's options, quantity discounts and
special prices (upsert_product's "options", "discounts", "specials" steps) on the MariaDB testbed, per layout.

Rows are compared with what OpenCart's own admin models write for the same form input (admin/model/catalog/
option.php addOption/editOption and product.php editProduct of 2.3.0.2, 3.0.3.9 and 4.0.2.3 — the same statements
in all three; derived from that code, not captured from a running shop).
"""

from decimal import Decimal

import pytest
import sqlalchemy as sa

from ocbridge.core.errors import TerminalError
from ocbridge.opencart import writes
from ocbridge.opencart.models import ShopWrite
from ocbridge.opencart.product_model import OptionChoice, PriceRule, ProductDraft, ProductOption, Text
from ocbridge.opencart.writes import OptionDraft, OptionValueDraft

from opencart.writes_helpers import Crash, crash_at, make_store, rows  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db
TABLES = ("option", "option_description", "option_value", "option_value_description")


def colour(*values, **kw):
    return OptionDraft({2: "Renk", 3: "Цвет"}, [OptionValueDraft(v) for v in values], **kw)


RED, BLUE = {2: "Kırmızı & <koyu>", 3: "Красный"}, {2: "Mavi"}


@pytest.mark.parametrize("version", ["2.3", "3.0", "4.0"])
def test_an_option_is_created_and_updated_as_the_admin_form_saves_it(opencart_db, version):
    h = opencart_db(version)
    store = make_store(h)
    made = writes.upsert_option(store, colour(RED, BLUE, sort_order=2), key="o1")
    oid, (red, blue) = made.option_id, made.value_ids
    assert made.created and rows(h, "option") == [(oid, "select", 2)]
    # every shop language has a row (English, not given, takes the first given), text escaped as the form stores it
    assert rows(h, "option_description") == [(oid, 1, "Renk"), (oid, 2, "Renk"), (oid, 3, "Цвет")]
    assert rows(h, "option_value") == [(red, oid, "", 0), (blue, oid, "", 0)]
    red_tr = "Kırmızı &amp; &lt;koyu&gt;"
    assert rows(h, "option_value_description", option_value_id=red) == [
        (red, 1, oid, red_tr), (red, 2, oid, red_tr), (red, 3, oid, "Красный")]
    # an update: Red found by its name (no second Red), Blue kept under its id, Green new; names of the given
    # language replaced, the others as they were
    upd = writes.upsert_option(store, OptionDraft({3: "Окрас"}, [
        OptionValueDraft({3: "Красный"}), OptionValueDraft({1: "Green"}, sort_order=3),
        OptionValueDraft({1: "Navy"}, option_value_id=blue)]), key="o2", option_id=oid)
    green = upd.value_ids[1]
    assert not upd.created and upd.value_ids == [red, green, blue] and green not in (red, blue)
    assert rows(h, "option_description") == [(oid, 1, "Renk"), (oid, 2, "Renk"), (oid, 3, "Окрас")]
    assert [(v[0], v[3]) for v in rows(h, "option_value")] == [(red, 0), (blue, 0), (green, 3)]
    assert rows(h, "option_value_description", option_value_id=blue) == [
        (blue, 1, oid, "Navy"), (blue, 2, oid, "Mavi"), (blue, 3, oid, "Mavi")]
    assert writes.upsert_option(store, OptionDraft({}), key="o2", option_id=oid).repeated


def test_a_draft_the_admin_form_refuses_is_refused_with_the_reason(opencart_db):
    h = opencart_db("3.0")
    store = make_store(h)
    with pytest.raises(TerminalError, match="at least one value"):
        writes.upsert_option(store, colour(), key="empty")
    with pytest.raises(TerminalError, match="1 to 128"):
        writes.upsert_option(store, colour({2: "x" * 129}), key="long")
    with pytest.raises(TerminalError, match="does not exist"):
        writes.upsert_option(store, colour(RED), key="gone", option_id=999)
    other = writes.upsert_option(store, colour(BLUE), key="other")
    mine = writes.upsert_option(store, OptionDraft({2: "Beden"}, [OptionValueDraft({2: "S"})]), key="mine")
    with pytest.raises(TerminalError, match="not a value of option"):
        writes.upsert_option(store, OptionDraft({}, [OptionValueDraft({}, option_value_id=other.value_ids[0])]),
                             key="steal", option_id=mine.option_id)
    assert ShopWrite.objects.get(key="steal").state == "failed" and rows(h, "option_value", option_id=mine.option_id) == [
        (mine.value_ids[0], mine.option_id, "", 0)]
    assert len(rows(h, "option")) == 2


def snapshot(h):
    """Every option-side row, ids renumbered in order (a reused test database or a rolled-back InnoDB
    transaction does not start AUTO_INCREMENT at 1)."""
    with h.engine.connect() as conn:
        ids = {}
        for table, col in (("option", "option_id"), ("option_value", "option_value_id")):
            t = h.t(table)
            ids[col] = {v: i for i, v in enumerate(conn.execute(sa.select(t.c[col]).order_by(t.c[col])).scalars(), 1)}
        out = {}
        for name in TABLES:
            t = h.t(name)
            out[name] = sorted(tuple(ids[c.name].get(v, v) if c.name in ids else v for c, v in zip(t.c, r))
                               for r in conn.execute(sa.select(t)))
        return out


_CLEAN: dict = {}
POINTS = [("option", "after"), ("texts", "after"), ("values", "before"), ("values", "after")]


@pytest.mark.parametrize("version,step,when", [(v, s, w) for v in ("3.0", "4.0") for s, w in POINTS])
def test_crash_between_option_steps_then_retry_equals_one_clean_write(opencart_db, crash_at, version, step, when):
    if version not in _CLEAN:
        clean = opencart_db(version)
        writes.upsert_option(make_store(clean), colour(RED, BLUE), key="clean")
        _CLEAN[version] = snapshot(clean)
    h = opencart_db(version)
    store = make_store(h)
    crash_at(step, when)
    with pytest.raises(Crash):
        writes.upsert_option(store, colour(RED, BLUE), key="w")
    writes.upsert_option(store, colour(RED, BLUE), key="w")
    assert snapshot(h) == _CLEAN[version]
    assert ShopWrite.objects.get(key="w").state == "done"


def _product_rows(h, product_id):
    strip = {"product_option": None, "product_option_value": None}
    out = {name: rows(h, name, product_id=product_id) for name in strip}
    out["discount"] = [r[2:] for r in rows(h, "product_discount", product_id=product_id)]
    out["special"] = [r[2:] for r in rows(h, "product_special", product_id=product_id)]
    return out


@pytest.mark.parametrize("version", ["2.3", "3.0", "4.0"])
def test_a_products_options_discounts_and_specials_keep_their_ids_as_edit_product_does(opencart_db, version):
    h = opencart_db(version)
    store = make_store(h)
    opt = writes.upsert_option(store, colour(RED, BLUE), key="opt")
    red, blue = opt.value_ids
    draft = ProductDraft(model="MUG-1", texts={2: Text("Kupa")}, price=Decimal("10"), options=[
        ProductOption(opt.option_id, [OptionChoice(red, Decimal("2.5"), quantity=4),
                                      OptionChoice(blue, Decimal("-1"))], required=True)],
        discounts=[PriceRule(1, Decimal("9"), quantity=10, date_start="2026-12-01")],
        specials=[PriceRule(1, Decimal("8.5"), priority=2, date_end="2026-12-31")])
    pid = writes.upsert_product(store, draft, key="p1").product_id
    r = _product_rows(h, pid)
    [(po_id, _pid, oid, value, required)] = r["product_option"]
    assert (oid, value, required) == (opt.option_id, "", 1)
    pov = {row[4]: row for row in r["product_option_value"]}
    assert pov[red][5:9] == (4, 1, Decimal("2.5000"), "+") and pov[blue][5:9] == (0, 1, Decimal("1.0000"), "-")
    assert [(d[0], d[1], d[3]) for d in r["discount"]] == [(1, 10, Decimal("9.0000"))]
    assert str(r["discount"][0][4]) == "2026-12-01" and str(r["special"][0][4]) == "2026-12-31"
    assert [(s[0], s[1], s[2]) for s in r["special"]] == [(1, 2, Decimal("8.5000"))]
    # an update naming only prices: the option rows keep their ids, Red keeps its stock, Blue goes, discounts too
    pov_red = pov[red][0]
    writes.upsert_product(store, ProductDraft(model="MUG-1", texts={}, options=[
        ProductOption(opt.option_id, [OptionChoice(red, Decimal("3"))])], discounts=[]), key="p2", product_id=pid)
    r = _product_rows(h, pid)
    assert [row[0] for row in r["product_option"]] == [po_id]
    assert [(row[0], row[4], row[5], row[7]) for row in r["product_option_value"]] == [(pov_red, red, 4, Decimal("3.0000"))]
    assert r["discount"] == [] and len(r["special"]) == 1  # specials not named: left as they were
    with pytest.raises(TerminalError, match="not a date"):
        writes.upsert_product(store, ProductDraft(model="MUG-1", texts={}, specials=[PriceRule(1, Decimal(1), date_end="31.12")]),
                              key="p3", product_id=pid)


def test_a_crash_inside_the_options_step_on_myisam_keeps_the_option_ids(opencart_db, crash_at):
    h = opencart_db("3.0")
    store = make_store(h)
    opt = writes.upsert_option(store, colour(RED, BLUE), key="opt")
    red, blue = opt.value_ids
    first = ProductDraft(model="MUG-2", texts={2: Text("Kupa")}, price=Decimal("10"), options=[
        ProductOption(opt.option_id, [OptionChoice(red, quantity=3), OptionChoice(blue, quantity=5)])])
    pid = writes.upsert_product(store, first, key="a").product_id
    before = _product_rows(h, pid)
    crash_at("options", "after")  # MyISAM: the step's rows are written, the journal does not know yet
    again = ProductDraft(model="MUG-2", texts={}, options=[
        ProductOption(opt.option_id, [OptionChoice(red, Decimal("1")), OptionChoice(blue, Decimal("1"))])])
    with pytest.raises(Crash):
        writes.upsert_product(store, again, key="b", product_id=pid)
    writes.upsert_product(store, again, key="b", product_id=pid)
    after = _product_rows(h, pid)
    assert [r[0] for r in after["product_option"]] == [r[0] for r in before["product_option"]]
    assert [(r[0], r[5]) for r in after["product_option_value"]] == [(r[0], r[5]) for r in before["product_option_value"]]
