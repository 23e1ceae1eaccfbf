"""The journaled category and manufacturer writes (opencart.writes.upsert_category / upsert_manufacturer) on the
MariaDB testbed, per OpenCart layout.

Rows are compared with what OpenCart's own admin models write for the same form input
(admin/model/catalog/category.php addCategory/editCategory and manufacturer.php of 3.0.3.9 and 4.0.2.3 — the
closure table `category_path` as their "MySQL Hierarchical Data Closure Table Pattern" builds it; derived from
that code, not captured from a running shop).
"""

import pytest
import sqlalchemy as sa

from ocbridge.core.errors import TerminalError
from ocbridge.opencart import writes
from ocbridge.opencart.models import ShopWrite
from ocbridge.opencart.writes import CategoryDraft, CategoryText

from opencart.writes_helpers import Crash, crash_at, make_store, rows  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db
VERSIONS = ["3.0", "4.0"]  # 3.0: MyISAM, step by step; 4.0: InnoDB, one transaction
TABLES = ("category", "category_description", "category_to_store", "category_path")


def paths(h):
    return rows(h, "category_path")


def snapshot(h):
    """Every category-side row without the clock's columns, ids renumbered in order (InnoDB does not reuse the
    AUTO_INCREMENT of a rolled-back transaction)."""
    with h.engine.connect() as conn:
        c = h.t("category")
        ids = {v: i for i, v in enumerate(conn.execute(sa.select(c.c.category_id).order_by(c.c.category_id)).scalars(), 1)}
        out = {}
        for name in TABLES:
            t = h.t(name)
            cols = [col for col in t.c if col.name not in ("date_added", "date_modified")]
            out[name] = sorted(tuple(ids.get(v, v) if col.name in ("category_id", "parent_id", "path_id") else v
                                     for col, v in zip(cols, r)) for r in conn.execute(sa.select(*cols)))
    return out


def texts(name_tr="Kupalar & <Bardaklar>", name_ru="Кружки"):
    return {2: CategoryText(name_tr, "<p>Seramik</p>"), 3: CategoryText(name_ru)}


@pytest.mark.parametrize("version", VERSIONS)
def test_created_categories_have_every_row_the_admin_form_saves(opencart_db, version):
    h = opencart_db(version)
    store = make_store(h)
    root = writes.upsert_category(store, CategoryDraft(texts(), sort_order=3, top=True), key="c1").category_id
    child = writes.upsert_category(store, CategoryDraft({2: CategoryText("Çay")}, parent_id=root), key="c2").category_id
    c = dict((r[0], r) for r in rows(h, "category"))
    assert c[root][2:7] == (0, 1, 1, 3, 1)  # parent, top, column (form default 1), sort, status
    assert c[child][2] == root
    desc = rows(h, "category_description", category_id=root)
    # every shop language gets a row, as the admin form always saves: English (not given) gets the first given text
    tr = "Kupalar &amp; &lt;Bardaklar&gt;"
    assert [(d[1], d[2]) for d in desc] == [(1, tr), (2, tr), (3, "Кружки")]
    assert desc[1][3] == "&lt;p&gt;Seramik&lt;/p&gt;" and desc[1][4] == desc[1][2]  # meta_title = name
    assert [(d[1], d[2]) for d in rows(h, "category_description", category_id=child)] == [(1, "Çay"), (2, "Çay"), (3, "Çay")]
    assert rows(h, "category_to_store") == [(root, 0), (child, 0)]
    assert paths(h) == sorted([(root, root, 0), (child, root, 0), (child, child, 1)])


@pytest.mark.parametrize("version", VERSIONS)
def test_moving_a_category_rebuilds_the_paths_below_it_as_edit_category_does(opencart_db, version):
    h = opencart_db(version)
    store = make_store(h)
    a = writes.upsert_category(store, CategoryDraft({2: CategoryText("A")}), key="a").category_id
    b = writes.upsert_category(store, CategoryDraft({2: CategoryText("B")}), key="b").category_id
    b1 = writes.upsert_category(store, CategoryDraft({2: CategoryText("B1")}, parent_id=b), key="b1").category_id
    b2 = writes.upsert_category(store, CategoryDraft({2: CategoryText("B2")}, parent_id=b1), key="b2").category_id
    r = writes.upsert_category(store, CategoryDraft({3: CategoryText("Б")}, parent_id=a), key="move", category_id=b)
    assert not r.created
    assert paths(h) == sorted([(a, a, 0), (b, a, 0), (b, b, 1), (b1, a, 0), (b1, b, 1), (b1, b1, 2),
                               (b2, a, 0), (b2, b, 1), (b2, b1, 2), (b2, b2, 3)])
    # only the given language's text changed; the rest of the row as it was
    assert [(d[1], d[2]) for d in rows(h, "category_description", category_id=b)] == [(1, "B"), (2, "B"), (3, "Б")]
    with pytest.raises(TerminalError, match="under itself"):
        writes.upsert_category(store, CategoryDraft({}, parent_id=b2), key="loop", category_id=b)
    with pytest.raises(TerminalError, match="does not exist"):
        writes.upsert_category(store, CategoryDraft({}, parent_id=999), key="orphan", category_id=b)
    assert ShopWrite.objects.get(key="loop").state == "failed"
    assert paths(h)[-1] == (b2, b2, 3)


def test_a_repeated_key_writes_once_and_a_bad_draft_is_refused(opencart_db):
    h = opencart_db("3.0")
    store = make_store(h)
    first = writes.upsert_category(store, CategoryDraft(texts()), key="k")
    again = writes.upsert_category(store, CategoryDraft(texts()), key="k")
    assert again.repeated and again.category_id == first.category_id and len(rows(h, "category")) == 1
    with pytest.raises(TerminalError, match="name"):
        writes.upsert_category(store, CategoryDraft({2: CategoryText("  ")}), key="blank")
    with pytest.raises(TerminalError, match="does not exist"):
        writes.upsert_category(store, CategoryDraft({2: CategoryText("X")}), key="gone", category_id=4242)
    assert len(rows(h, "category")) == 1


def _points(version):
    pts = [(s, w) for s in ("category", "texts", "stores", "path") for w in ("before", "after")]
    return pts + ([("commit", "after")] if version == "4.0" else [])


_CLEAN: dict = {}


@pytest.mark.parametrize("version,step,when", [(v, s, w) for v in VERSIONS for s, w in _points(v)])
def test_crash_between_any_two_category_steps_then_retry_equals_one_clean_write(opencart_db, crash_at, version,
                                                                                step, when):
    def prepare():
        h = opencart_db(version)
        parent = writes.upsert_category(make_store(h), CategoryDraft({2: CategoryText("Parent")}), key=f"p-{h.name}")
        return h, parent.category_id

    if version not in _CLEAN:
        clean, parent = prepare()
        writes.upsert_category(make_store(clean), CategoryDraft(texts(), parent_id=parent), key="clean")
        _CLEAN[version] = snapshot(clean)
    h, parent = prepare()
    store = make_store(h)
    crash_at(step, when)
    with pytest.raises(Crash):
        writes.upsert_category(store, CategoryDraft(texts(), parent_id=parent), key="w")
    r = writes.upsert_category(store, CategoryDraft(texts(), parent_id=parent), key="w")
    assert snapshot(h) == _CLEAN[version]
    assert ShopWrite.objects.get(key="w").state == "done"
    assert [c[0] for c in rows(h, "category")] == [parent, r.category_id]


@pytest.mark.parametrize("version", VERSIONS)
def test_manufacturer_is_created_once_and_updated_with_its_stores(opencart_db, crash_at, version):
    h = opencart_db(version)
    store = make_store(h)
    crash_at("manufacturer", "after")
    with pytest.raises(Crash):
        writes.upsert_manufacturer(store, "Acme & Co", key="m", sort_order=2)
    made = writes.upsert_manufacturer(store, "Acme & Co", key="m", sort_order=2)
    assert writes.upsert_manufacturer(store, "Acme & Co", key="m").repeated
    assert [(r[0], r[1], r[3]) for r in rows(h, "manufacturer")] == [(made.manufacturer_id, "Acme &amp; Co", 2)]
    assert rows(h, "manufacturer_to_store") == [(made.manufacturer_id, 0)]
    upd = writes.upsert_manufacturer(store, "Acme", key="m2", manufacturer_id=made.manufacturer_id, store_ids=[0, 1])
    assert not upd.created
    assert [(r[1], r[3]) for r in rows(h, "manufacturer")] == [("Acme", 2)]
    assert rows(h, "manufacturer_to_store") == [(made.manufacturer_id, 0), (made.manufacturer_id, 1)]
    with pytest.raises(TerminalError, match="1 to 64"):
        writes.upsert_manufacturer(store, "", key="m3")
