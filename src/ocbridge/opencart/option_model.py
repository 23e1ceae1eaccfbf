"""An option and its values as OpenCart's admin saves them (admin/model/catalog/option.php addOption/editOption,
the same in 2.3.0.2, 3.0.3.9 and 4.0.2.3), split into steps the journaled write (opencart.writes.upsert_option)
runs and resumes.

Steps: the option row (`type`, `sort_order`), its names per language (`option_description`, replaced), then its
values: each `option_value` row (`image`, `sort_order`) with its names per language (`option_value_description`,
replaced). A value keeps its `option_value_id` (orders and products refer to it, as editOption re-inserts it under
the same id); a value without one is found by its name among the option's values, else created — so a step run
again makes no second "Red". Unlike the admin form, values the draft does not name are kept: another product may
use them (removing one is left to the owner).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import sqlalchemy as sa

from ocbridge.core.errors import TerminalError
from ocbridge.opencart.db import ShopDB
from ocbridge.opencart.product_model import _esc, _per_language

STEPS = ("option", "texts", "values")
NAME_MAX = 128  # the admin form validates option and value names 1..128
CHOICE_TYPES = ("select", "radio", "checkbox", "image")  # the types whose values products choose from
TYPES = CHOICE_TYPES + ("text", "textarea", "file", "date", "time", "datetime")


@dataclass
class OptionValueDraft:
    names: dict[int, str]  # language_id → name
    option_value_id: int | None = None
    sort_order: int | None = None
    image: str | None = None  # a path under the shop's image/ directory


@dataclass
class OptionDraft:
    """What to write. On update, None leaves that part as it is. Languages of the shop not given get the shop
    language's (else the first) name, so every language has a row, as the admin form saves."""

    names: dict[int, str]
    values: list[OptionValueDraft] = field(default_factory=list)
    type: str | None = None  # on create: "select"
    sort_order: int | None = None

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> OptionDraft:
        d = dict(data)
        d["names"] = {int(k): v for k, v in d["names"].items()}
        d["values"] = [OptionValueDraft(**{**v, "names": {int(k): n for k, n in v["names"].items()}})
                       for v in d.get("values") or []]
        return cls(**d)


def _bad(message: str):
    raise TerminalError("opencart-db", "invalid_option", message)


def check(draft: OptionDraft, *, creating: bool) -> None:
    """Refuse what the admin form refuses, with the reason (nothing written)."""
    if creating and not draft.names:
        _bad("The option has no name.")
    for lang, name in draft.names.items():
        if not (name or "").strip() or len(name) > NAME_MAX:
            _bad(f"The option name in language {lang} must be 1 to {NAME_MAX} characters: {name!r}.")
    if draft.type is not None and draft.type not in TYPES:
        _bad(f"Option type {draft.type!r} is not one OpenCart has.")
    if creating and (draft.type or "select") in CHOICE_TYPES[:3] and not draft.values:
        _bad("A select, radio or checkbox option needs at least one value.")  # the form's error_type
    for v in draft.values:
        if not v.names and v.option_value_id is None:
            _bad("An option value has no name.")
        for lang, name in v.names.items():
            if not (name or "").strip() or len(name) > NAME_MAX:
                _bad(f"The option value name in language {lang} must be 1 to {NAME_MAX} characters: {name!r}.")


def max_option_id(conn: sa.Connection, shop: ShopDB) -> int:
    o = shop.t("option")
    return int(conn.execute(sa.select(sa.func.max(o.c.option_id))).scalar() or 0)


def find_created(conn: sa.Connection, shop: ShopDB, draft: OptionDraft, floor: int) -> int | None:
    """The option an interrupted create made: above the highest id seen when the write began, either without
    names yet or already carrying ours."""
    o, od = shop.t("option"), shop.t("option_description")
    lang, name = next(iter(draft.names.items()))
    named = sa.select(od.c.option_id).where(od.c.language_id == lang, od.c.name == _esc(shop, name.strip()))
    return conn.execute(sa.select(o.c.option_id).where(
        o.c.option_id > floor, sa.or_(o.c.option_id.in_(named), o.c.option_id.not_in(sa.select(od.c.option_id))))
        .order_by(o.c.option_id).limit(1)).scalar()


def option_columns(draft: OptionDraft) -> dict:
    cols = {}
    if draft.type is not None:
        cols["type"] = draft.type
    if draft.sort_order is not None:
        cols["sort_order"] = int(draft.sort_order)
    return cols


def new_option_row(draft: OptionDraft) -> dict:
    return {"type": "select", "sort_order": 0, **option_columns(draft)}


def write_texts(conn, shop: ShopDB, option_id: int, draft: OptionDraft, languages: list[int], preferred) -> None:
    """option_description: the given languages replaced; every shop language without a row gets one."""
    od = shop.t("option_description")
    have = set(conn.execute(sa.select(od.c.language_id).where(od.c.option_id == option_id)).scalars())
    names = _per_language(draft.names, languages, preferred)
    wanted = {lang: n for lang, n in names.items() if lang in draft.names or lang not in have}
    if not wanted:
        return
    conn.execute(sa.delete(od).where(od.c.option_id == option_id, od.c.language_id.in_(list(wanted))))
    conn.execute(sa.insert(od), [{"option_id": option_id, "language_id": lang, "name": _esc(shop, n.strip())}
                                 for lang, n in wanted.items()])


def write_values(conn, shop: ShopDB, option_id: int, draft: OptionDraft, languages: list[int], preferred,
                 marks: dict) -> None:
    """Each value of the draft: its row and its names in every language; marks["value_ids"] lists their ids in
    the draft's order."""
    ov, ovd = shop.t("option_value"), shop.t("option_value_description")
    ids = []
    for v in draft.values:
        vid = v.option_value_id
        if vid is not None and conn.execute(sa.select(ov.c.option_value_id).where(
                ov.c.option_value_id == int(vid), ov.c.option_id == option_id)).first() is None:
            _bad(f"Option value {vid} is not a value of option {option_id}.")
        if vid is None and v.names:
            vid = conn.execute(sa.select(ovd.c.option_value_id).where(ovd.c.option_id == option_id, sa.or_(*[
                sa.and_(ovd.c.language_id == lang, ovd.c.name == _esc(shop, n.strip())) for lang, n in v.names.items()]))
                .order_by(ovd.c.option_value_id).limit(1)).scalar()
        cols = {k: val for k, val in (("sort_order", v.sort_order), ("image", v.image)) if val is not None}
        if vid is None:
            vid = int(conn.execute(sa.insert(ov).values(option_id=option_id, **{"image": "", "sort_order": 0, **cols}))
                      .inserted_primary_key[0])
        elif cols:
            conn.execute(sa.update(ov).where(ov.c.option_value_id == int(vid)).values(**cols))
        vid = int(vid)
        if v.names:
            have = set(conn.execute(sa.select(ovd.c.language_id).where(ovd.c.option_value_id == vid)).scalars())
            names = _per_language(v.names, languages, preferred)
            wanted = {lang: n for lang, n in names.items() if lang in v.names or lang not in have}
            conn.execute(sa.delete(ovd).where(ovd.c.option_value_id == vid, ovd.c.language_id.in_(list(wanted))))
            conn.execute(sa.insert(ovd), [{"option_value_id": vid, "language_id": lang, "option_id": option_id,
                                           "name": _esc(shop, n.strip())} for lang, n in wanted.items()])
        ids.append(vid)
    marks["value_ids"] = ids


def run_step(conn: sa.Connection, shop: ShopDB, step: str, option_id: int, draft: OptionDraft, languages, preferred,
             marks: dict) -> None:
    if step == "texts":
        write_texts(conn, shop, option_id, draft, languages, preferred)
    elif step == "values":
        write_values(conn, shop, option_id, draft, languages, preferred, marks)


def read_options(conn: sa.Connection, shop: ShopDB, option_ids: list[int] | None = None) -> dict[int, dict]:
    """option_id → {type, sort_order, names{lang}, values: {option_value_id: names{lang}}} (plain text)."""
    from ocbridge.opencart.orders import unescape

    o, od, ov, ovd = (shop.t(n) for n in ("option", "option_description", "option_value", "option_value_description"))
    stmt = sa.select(o)
    if option_ids is not None:
        stmt = stmt.where(o.c.option_id.in_(list(option_ids)))
    out = {r.option_id: {"type": r.type, "sort_order": r.sort_order, "names": {}, "values": {}}
           for r in conn.execute(stmt)}
    for r in conn.execute(sa.select(od).where(od.c.option_id.in_(list(out)))):
        out[r.option_id]["names"][r.language_id] = unescape(r.name)
    for r in conn.execute(sa.select(ov.c.option_value_id, ov.c.option_id).where(ov.c.option_id.in_(list(out)))
                          .order_by(ov.c.sort_order, ov.c.option_value_id)):
        out[r.option_id]["values"][r.option_value_id] = {}
    for r in conn.execute(sa.select(ovd).where(ovd.c.option_id.in_(list(out)))):
        if r.option_value_id in out[r.option_id]["values"]:
            out[r.option_id]["values"][r.option_value_id][r.language_id] = unescape(r.name)
    return out
