"""A category as OpenCart's admin saves it (admin/model/catalog/category.php addCategory/editCategory of 2.3.0.2,
3.0.3.9 and 4.0.2.3 — the same columns and rows in all three), split into steps the journaled write
(opencart.writes.upsert_category) runs and resumes.

Steps: the category row, its descriptions per language, its stores, then `category_path` — OpenCart's closure
table (one row per ancestor and itself, level 0 = the root). The admin rebuilds the paths of the category and of
every category below it when the parent changes; here they are rebuilt from `parent_id` the same way, which
gives the admin's rows and makes the step safe to run again. Not written: filters, layouts, SEO keywords (left
to the owner, as for products).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import sqlalchemy as sa

from ocbridge.core.errors import TerminalError
from ocbridge.opencart.db import ShopDB
from ocbridge.opencart.product_model import _esc, _per_language

STEPS = ("category", "texts", "stores", "path")
NAME_MAX = 255  # the admin form validates name 1..255 (2.3: 2..255) and meta_title 1..255


@dataclass
class CategoryText:
    name: str
    description: str = ""  # HTML as the shop should show it; stored escaped like the form
    meta_title: str = ""  # empty: the name (the admin form requires one)
    meta_description: str = ""
    meta_keyword: str = ""


@dataclass
class CategoryDraft:
    """What to write. On update, None leaves that part as it is. Languages of the shop not given get the shop
    language's (else the first) text, so the category has a description row in every language."""

    texts: dict[int, CategoryText]
    parent_id: int | None = None  # 0 = top level
    status: bool | None = None
    sort_order: int | None = None
    top: bool | None = None
    column: int | None = None
    image: str | None = None  # a path under the shop's image/ directory
    store_ids: list[int] | None = None

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> CategoryDraft:
        d = dict(data)
        d["texts"] = {int(k): CategoryText(**v) for k, v in d["texts"].items()}
        return cls(**d)


def _bad(message: str):
    raise TerminalError("opencart-db", "invalid_category", message)


def check(draft: CategoryDraft, *, creating: bool) -> None:
    """Refuse what the admin form refuses, with the reason (nothing written)."""
    if creating and not draft.texts:
        _bad("The category has no name.")
    for lang, text in draft.texts.items():
        if not (text.name or "").strip() or len(text.name) > NAME_MAX:
            _bad(f"The category name in language {lang} must be 1 to {NAME_MAX} characters: {text.name!r}.")
    if draft.parent_id is not None and int(draft.parent_id) < 0:
        _bad(f"Parent category {draft.parent_id} is not valid.")


def check_parent(conn: sa.Connection, shop: ShopDB, category_id: int | None, parent_id: int) -> None:
    """The parent exists and is not the category itself or one below it (the admin form's "error_parent")."""
    if not parent_id:
        return
    c = shop.t("category")
    if conn.execute(sa.select(c.c.category_id).where(c.c.category_id == parent_id)).first() is None:
        _bad(f"Parent category {parent_id} does not exist.")
    if category_id is not None and category_id in ancestors(conn, shop, parent_id):
        _bad(f"Category {category_id} cannot be placed under itself or a category below it ({parent_id}).")


def ancestors(conn: sa.Connection, shop: ShopDB, category_id: int) -> list[int]:
    """The chain root … category_id by parent_id (a loop in the shop's data stops the walk)."""
    c = shop.t("category")
    chain: list[int] = []
    node = category_id
    while node and node not in chain:
        chain.append(node)
        node = conn.execute(sa.select(c.c.parent_id).where(c.c.category_id == node)).scalar() or 0
    return chain[::-1]


def max_category_id(conn: sa.Connection, shop: ShopDB) -> int:
    c = shop.t("category")
    return int(conn.execute(sa.select(sa.func.max(c.c.category_id))).scalar() or 0)


def find_created(conn: sa.Connection, shop: ShopDB, draft: CategoryDraft, floor: int) -> int | None:
    """The category an interrupted create made: above the highest id seen when the write began, under our
    parent, and either without descriptions yet or already carrying our name."""
    c, cd = shop.t("category"), shop.t("category_description")
    lang, text = next(iter(draft.texts.items()))
    named = sa.select(cd.c.category_id).where(cd.c.language_id == lang, cd.c.name == _esc(shop, text.name.strip()))
    described = sa.select(cd.c.category_id)
    return conn.execute(sa.select(c.c.category_id).where(
        c.c.category_id > floor, c.c.parent_id == int(draft.parent_id or 0),
        sa.or_(c.c.category_id.in_(named), c.c.category_id.not_in(described)))
        .order_by(c.c.category_id).limit(1)).scalar()


def category_columns(shop: ShopDB, draft: CategoryDraft) -> dict:
    cols = {}
    if draft.parent_id is not None:
        cols["parent_id"] = int(draft.parent_id)
    for name in ("status", "top"):
        if getattr(draft, name) is not None:
            cols[name] = int(bool(getattr(draft, name)))
    for name in ("sort_order", "column"):
        if getattr(draft, name) is not None:
            cols[name] = int(getattr(draft, name))
    if draft.image is not None:
        cols["image"] = _esc(shop, draft.image)
    return cols


def new_category_row(shop: ShopDB, draft: CategoryDraft, now) -> dict:
    """addCategory's row: the form's defaults for what the draft leaves out (column 1, top 0, enabled)."""
    row = {"parent_id": 0, "top": 0, "column": 1, "sort_order": 0, "status": 1, "image": "",
           "date_added": now, "date_modified": now}
    row.update(category_columns(shop, draft))
    return row


def write_texts(conn, shop: ShopDB, category_id: int, draft: CategoryDraft, languages: list[int], preferred):
    """category_description: the given languages replaced; every shop language without a row gets one."""
    cd = shop.t("category_description")
    have = set(conn.execute(sa.select(cd.c.language_id).where(cd.c.category_id == category_id)).scalars())
    texts = _per_language(draft.texts, languages, preferred)
    wanted = {lang: t for lang, t in texts.items() if lang in draft.texts or lang not in have}
    if not wanted:
        return
    conn.execute(sa.delete(cd).where(cd.c.category_id == category_id, cd.c.language_id.in_(list(wanted))))
    conn.execute(sa.insert(cd), [{
        "category_id": category_id, "language_id": lang, "name": _esc(shop, t.name.strip()),
        "description": _esc(shop, t.description),
        "meta_title": _esc(shop, (t.meta_title or t.name).strip())[:255],
        "meta_description": _esc(shop, t.meta_description)[:255], "meta_keyword": _esc(shop, t.meta_keyword)[:255],
    } for lang, t in wanted.items()])


def write_stores(conn, shop: ShopDB, category_id: int, store_ids: list[int]) -> None:
    cs = shop.t("category_to_store")
    conn.execute(sa.delete(cs).where(cs.c.category_id == category_id))
    ids = list(dict.fromkeys(int(s) for s in store_ids))
    if ids:
        conn.execute(sa.insert(cs), [{"category_id": category_id, "store_id": s} for s in ids])


def write_paths(conn, shop: ShopDB, category_id: int) -> None:
    """category_path of the category and of every category below it, as editCategory leaves them."""
    c, cp = shop.t("category"), shop.t("category_path")
    subtree, frontier = [category_id], [category_id]
    while frontier:  # breadth-first: parents get their paths before their children read them
        frontier = [r for r in conn.execute(sa.select(c.c.category_id).where(
            c.c.parent_id.in_(frontier), c.c.category_id.not_in(subtree))).scalars()]
        subtree += frontier
    for node in subtree:
        chain = ancestors(conn, shop, node)
        conn.execute(sa.delete(cp).where(cp.c.category_id == node))
        conn.execute(sa.insert(cp), [{"category_id": node, "path_id": p, "level": i} for i, p in enumerate(chain)])


def run_step(conn: sa.Connection, shop: ShopDB, step: str, category_id: int, draft: CategoryDraft,
             languages: list[int], preferred) -> None:
    """One step after the category row (each replaces the category's rows of its kind)."""
    if step == "texts":
        write_texts(conn, shop, category_id, draft, languages, preferred)
    elif step == "stores" and draft.store_ids is not None:
        write_stores(conn, shop, category_id, draft.store_ids)
    elif step == "path":
        write_paths(conn, shop, category_id)
