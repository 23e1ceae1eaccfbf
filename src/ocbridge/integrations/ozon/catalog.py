"""Cached Ozon reference data: the description-category tree, per-category attributes, dictionary values.

They are large and change rarely (ozon.md §4: daily refresh is plenty), so they live in CatalogCache
rows per Connection and are fetched only when missing or older than `MAX_AGE`.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils.translation import gettext_lazy as _

from ocbridge.core import clock
from ocbridge.core.errors import never_reached
from ocbridge.core.sentences import words
from ocbridge.integrations.ozon.config import OzonConfig
from ocbridge.integrations.ozon.models import CatalogCache

MAX_AGE = timedelta(days=1)
MAX_VALUE_PAGES = 10  # 10 × 2000 values; bigger dictionaries (brands) are matched through the form's explicit choices


def _get(conn, kind: str, key: str, fetch, refresh: bool = False, max_age: timedelta = MAX_AGE):
    row = CatalogCache.objects.filter(connection=conn, kind=kind, key=key).first()
    if row is not None and not refresh and clock.now() - row.fetched_at < max_age:
        return row.data
    data = fetch()
    CatalogCache.objects.update_or_create(connection=conn, kind=kind, key=key,
                                          defaults={"data": data, "fetched_at": clock.now()})
    return data


def cached_tree(conn) -> list[dict]:
    row = CatalogCache.objects.filter(connection=conn, kind="tree", key="").first()
    return row.data if row else []


def tree(client, conn) -> list[dict]:
    """The tree for the mapping form: fetched from Ozon when missing or older than a day, else the cached one."""
    return _get(conn, "tree", "", lambda: client.get_category_tree())


def refresh_tree(client, conn) -> list[dict]:
    return _get(conn, "tree", "", lambda: client.get_category_tree(), refresh=True)


def leaves(tree: list[dict], path: tuple[str, ...] = (), parent: int = 0) -> list[dict]:
    """Flat list of selectable (category, type) pairs with their breadcrumb, for search in the mapping form."""
    out = []
    for node in tree:
        if node.get("disabled"):
            continue
        if "type_id" in node and node.get("type_id"):
            out.append({"description_category_id": parent, "type_id": node["type_id"],
                        "label": " / ".join(path + (node.get("type_name", ""),))})
        else:
            out.extend(leaves(node.get("children") or [], path + (node.get("category_name", ""),),
                              node.get("description_category_id", parent)))
    return out


def attributes_of(client, conn, cat: int, type_id: int, refresh: bool = False) -> list[dict]:
    return _get(conn, "attributes", f"{cat}:{type_id}",
                lambda: client.get_category_attributes(description_category_id=cat, type_id=type_id), refresh)


def values_of(client, conn, attribute_id: int, cat: int, type_id: int, refresh: bool = False) -> dict:
    """{"values": [...], "complete": bool}: every page while has_next, up to MAX_VALUE_PAGES."""

    def fetch():
        values, last, complete = [], 0, False
        for _ in range(MAX_VALUE_PAGES):
            page = client.get_attribute_values(attribute_id=attribute_id, description_category_id=cat, type_id=type_id,
                                               last_value_id=last)
            values.extend({"id": v["id"], "value": v.get("value", "")} for v in page.values)
            if not page.has_next or not page.values:
                complete = True
                break
            last = page.values[-1]["id"]
        return {"values": values, "complete": complete}

    return _get(conn, "values", f"{attribute_id}:{cat}:{type_id}", fetch, refresh)


def for_config(client, conn, cfg: OzonConfig, refresh: bool = False):
    """Attributes of every mapped category and the complete dictionaries of the mapped attributes."""
    attributes: dict[tuple[int, int], list[dict]] = {}
    dictionaries: dict[int, list[dict]] = {}
    for m in cfg.category_map.values():
        cat, type_id = int(m.get("description_category_id") or 0), int(m.get("type_id") or 0)
        if not cat or not type_id or (cat, type_id) in attributes:
            continue
        attrs = attributes[(cat, type_id)] = attributes_of(client, conn, cat, type_id, refresh)
        for a in attrs:
            if a.get("dictionary_id") and str(a["id"]) in cfg.attribute_map and a["id"] not in dictionaries:
                got = values_of(client, conn, a["id"], cat, type_id, refresh)
                if got["complete"]:
                    dictionaries[a["id"]] = got["values"]
    return attributes, dictionaries


# --- warehouses and cancel reasons: small, but rate limited or worth one call a day ---------------------

WAREHOUSES_MAX_AGE = timedelta(minutes=1)  # /v2/warehouse/list: at most one call a minute (ozon.md §0)
REASONS_MAX_AGE = timedelta(hours=6)
OTHER_REASON = 402  # "other (seller's fault)": Ozon requires cancel_reason_message with it

# Our own wording of the seller reasons in Ozon's reference example, so the owner reads them in the hub's
# language; a reason we have no wording for is shown with Ozon's (Russian) title.
REASON_TITLES = {
    352: _("Out of stock at the seller's warehouse"),
    400: _("Only defective items left"),
    401: _("The seller declined the dispute"),
    402: _("Other (the seller's fault)"),
    665: _("The customer did not collect the order"),
    666: _("Returned by the carrier: no delivery to this region"),
    667: _("The carrier lost the order"),
}


def warehouses(client, conn, *, refresh: bool = False) -> list[dict]:
    """The seller's warehouses, asked at most once a minute whoever asks (test button, forms, jobs)."""
    return _get(conn, "warehouses", "", client.list_warehouses, refresh=refresh, max_age=WAREHOUSES_MAX_AGE)


def failure_text(exc: Exception) -> str:
    """Why asking Ozon failed, as the Test button and the settings form say it: never reached (DNS, refused,
    timeout: the error names which) or refused by Ozon (e.g. a wrong Api-Key)."""
    if never_reached(exc):
        return _("Ozon could not be reached: %(error)s") % {"error": words(exc)}
    return _("Ozon refused: %(error)s") % {"error": words(exc)}


def cancel_reasons(client, conn, *, refresh: bool = False) -> list[dict]:
    """Ozon's live cancel reasons, each with `label` in the active language."""
    rows = _get(conn, "cancel_reasons", "", client.list_cancel_reasons, refresh=refresh, max_age=REASONS_MAX_AGE)
    return [{**r, "label": str(REASON_TITLES.get(int(r["id"]), r.get("title") or r["id"]))} for r in rows]


def seller_reason(client, conn, reason_id: int) -> dict:
    """The owner's reason from Ozon's live list, or a terminal error the owner can act on."""
    from ocbridge.core.errors import ConfigurationError

    for r in cancel_reasons(client, conn):
        if int(r["id"]) == int(reason_id):
            if r.get("type_id") != "seller" or not r.get("is_available_for_cancellation"):
                raise ConfigurationError(f"Ozon cancel reason {reason_id} ({r['label']}) cannot be used by a seller now; "
                                         "choose another in the Ozon settings")
            return r
    raise ConfigurationError(f"Ozon no longer lists cancel reason {reason_id}; choose another in the Ozon settings")
