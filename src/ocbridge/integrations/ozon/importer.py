"""Ozon → shop: cards that exist only on Ozon become shop products (two-way products, when the owner chooses it).

A card is "only on Ozon" when no Binding knows its offer_id and no shop product has that offer id by the owner's
rule (model or SKU with the prefix). Each becomes one product through the shop's journaled product write
(opencart.writes.upsert_product, keyed by the offer), then an `ozon.imported` Binding so it is never imported
twice. What the import wrote is recorded as already in sync on the product, stock and price Bindings, so the
next products/stock/price runs find nothing changed and send nothing back (no echo).

Texts: Ozon keeps one text per card (Russian): it goes to the shop's Russian language, and languages without a
text of their own get it too (the admin form needs a name in every language). Images: the shop has no way to
receive files without the extension's upload endpoint (DESIGN), so products are created without images and
their Ozon image addresses are listed on the Ozon page.
"""

from __future__ import annotations

import logging
from decimal import Decimal, InvalidOperation

from django.db import transaction

from ocbridge.core import bindings, clock
from ocbridge.core.models import Binding
from ocbridge.integrations.ozon import catalog, mappers, models as m, rules, shop
from ocbridge.integrations.ozon.config import OzonConfig
from ocbridge.opencart.writes import Attribute, ProductDraft, Text

log = logging.getLogger(__name__)

BATCH = 100  # cards read and written per round (one description call each)
BRAND, MODEL_NAME, ANNOTATION = 85, 9048, 4191  # Ozon attribute ids: brand, model name (variant group), annotation
NOT_ATTRIBUTES = {BRAND, MODEL_NAME, ANNOTATION, 4180}  # 4180 = the name: written elsewhere, not as attributes
ATTRIBUTE_GROUP = "Ozon"


def importable(cfg: OzonConfig) -> str:
    """Why products cannot be imported with these settings ("" when they can)."""
    if cfg.offer_id_rule not in ("model", "sku"):
        return "Importing from Ozon needs offer ids made from the model or the SKU (not the product id)."
    return ""


def model_of(offer_id: str, cfg: OzonConfig) -> str:
    """The shop model (or SKU) that gives back this offer id under the owner's rule."""
    prefix = cfg.offer_id_prefix
    return offer_id[len(prefix):] if prefix and offer_id.startswith(prefix) else offer_id


def import_key(store, offer_id: str) -> str:
    return f"ozon:{store.pk}:import:{offer_id}"


def ozon_only(client, connection, store, cfg: OzonConfig) -> list[str]:
    """Offer ids of live (not archived) Ozon cards that neither a Binding nor a shop product knows."""
    from ocbridge.opencart.models import ShopWrite

    imported = set(Binding.objects.filter(connection=connection, kind=m.IMPORTED).values_list("external_id", flat=True))
    known = imported | set(Binding.objects.filter(connection=connection, kind=m.PRODUCT)
                           .values_list("external_id", flat=True))
    known |= {mappers.offer_id(row, cfg) for row in shop.product_identities(store)}
    # A product our import began (a worker killed mid-write, or before its Binding) is in the shop already: finish it.
    prefix = import_key(store, "")
    known -= {k[len(prefix):] for k in ShopWrite.objects.filter(store=store, kind="product", key__startswith=prefix)
              .values_list("key", flat=True)} - imported
    out, last_id = [], ""
    while True:
        page = client.list_products(last_id=last_id)
        out += [str(i["offer_id"]) for i in page.items if not i.get("archived") and str(i["offer_id"]) not in known]
        if not page.last_id or not page.items:
            return out
        last_id = page.last_id


def _decimal(value) -> Decimal:
    try:
        return Decimal(str(value or 0))
    except InvalidOperation:
        return Decimal(0)


def free_stock(info: dict) -> int:
    """Sellable stock of a card at the seller's own warehouses (FBS/rFBS): present minus reserved."""
    total = 0
    for s in (info.get("stocks") or {}).get("stocks") or []:
        if str(s.get("source") or "").lower() != "fbo":
            total += max(0, int(s.get("present") or 0) - int(s.get("reserved") or 0))
    return total


def draft_for(card: dict, info: dict, description: dict, attribute_names: dict[int, str], cfg: OzonConfig,
              language_id: int, categories: list[int], units: tuple[str, str], store_id: int) -> ProductDraft:
    """The shop product of one Ozon card (pure: tests build drafts from documented answers)."""
    values = {int(a["id"]): [str(v.get("value") or "") for v in a.get("values") or [] if str(v.get("value") or "").strip()]
              for a in card.get("attributes") or [] if not a.get("complex_id")}
    text = str(description.get("description") or "").strip() or "<br>".join(values.get(ANNOTATION, []))
    name = str(description.get("name") or card.get("name") or info.get("name") or "").strip()
    attributes = [Attribute({language_id: attribute_names.get(aid) or f"Ozon {aid}"}, {language_id: ", ".join(vals)})
                  for aid, vals in values.items() if vals and aid not in NOT_ATTRIBUTES]
    weight_unit, length_unit = units
    g = _decimal(card.get("weight")) * Decimal(str(mappers.WEIGHT_TO_G.get((card.get("weight_unit") or "g").lower(), 1)))
    to_mm = Decimal(str(mappers.LENGTH_TO_MM.get((card.get("dimension_unit") or "mm").lower(), 1)))
    per_weight = Decimal(str(mappers.WEIGHT_TO_G.get(weight_unit.lower(), 0) or 0))
    per_length = Decimal(str(mappers.LENGTH_TO_MM.get(length_unit.lower(), 0) or 0))
    model = model_of(str(card["offer_id"]), cfg)
    return ProductDraft(
        model=model, sku=model if cfg.offer_id_rule == "sku" else "", texts={language_id: Text(name[:255], text)},
        price=_decimal(info.get("price")), quantity=free_stock(info), status=True, store_ids=[store_id],
        category_ids=categories, manufacturer=", ".join(values.get(BRAND, [])) or None, attributes=attributes,
        attribute_group={language_id: ATTRIBUTE_GROUP}, images=None,
        weight=(g / per_weight).quantize(Decimal("0.00000001")) if per_weight else None,
        length=(_decimal(card.get("depth")) * to_mm / per_length).quantize(Decimal("0.00000001")) if per_length else None,
        width=(_decimal(card.get("width")) * to_mm / per_length).quantize(Decimal("0.00000001")) if per_length else None,
        height=(_decimal(card.get("height")) * to_mm / per_length).quantize(Decimal("0.00000001")) if per_length else None)


def categories_for(card: dict, cfg: OzonConfig) -> list[int]:
    """The shop categories the owner mapped to this card's Ozon category and type (the mapping read backwards)."""
    pair = (int(card.get("description_category_id") or 0), int(card.get("type_id") or 0))
    return sorted(int(cid) for cid, mp in cfg.category_map.items()
                  if (int(mp.get("description_category_id") or 0), int(mp.get("type_id") or 0)) == pair)


def import_batch(ctx, offer_ids: list[str]) -> list[int]:
    """Import one batch of Ozon-only cards; returns the shop product ids made (or found again after a crash)."""
    client, conn, cfg, store = ctx.client, ctx.connection, ctx.cfg, ctx.store
    infos = {str(i["offer_id"]): i for i in client.get_products_info(offer_ids=offer_ids)}
    cards, last_id = {}, ""
    while True:
        items, last_id = client.get_products_attributes(offer_ids=offer_ids, last_id=last_id)
        cards.update({str(c["offer_id"]): c for c in items})
        if not last_id:
            break
    language_id, units = shop.import_language(store, cfg), shop.default_units(store)
    made: dict[str, tuple[int, ProductDraft, dict]] = {}
    for offer in offer_ids:
        card, info = cards.get(offer), infos.get(offer)
        if card is None or info is None:
            continue  # archived or deleted meanwhile
        names = {int(a["id"]): str(a.get("name") or "") for a in catalog.attributes_of(
            client, conn, int(card.get("description_category_id") or 0), int(card.get("type_id") or 0))} \
            if card.get("description_category_id") and card.get("type_id") else {}
        draft = draft_for(card, info, client.get_product_description(offer_id=offer), names, cfg, language_id,
                          categories_for(card, cfg), units, int(store.oc_store_id or 0))
        written = shop.upsert_product(store, draft, key=import_key(store, offer))
        made[offer] = (written.product_id, draft, card)
    if made:
        _record(ctx, made)
    return [pid for pid, _, _ in made.values()]


def _record(ctx, made: dict[str, tuple[int, ProductDraft, dict]]) -> None:
    """The imported Binding per card, and the product/stock/price Bindings as the import leaves both sides, so
    the one-way runs see nothing to send (what we wrote is an echo of Ozon, not a shop change)."""
    conn, cfg, now = ctx.connection, ctx.cfg, clock.now()
    pids = {pid for pid, _, _ in made.values()}
    rows = {r["product_id"]: r for r in shop.catalog_rows(ctx.store, cfg) if r["product_id"] in pids}
    attributes, dictionaries = catalog.for_config(ctx.client, conn, cfg)
    settings_fp = mappers.settings_fingerprint(cfg, attributes, dictionaries)
    out: dict[str, list[Binding]] = {m.IMPORTED: [], m.PRODUCT: [], m.PRICE: [], m.STOCK: []}
    for offer, (pid, draft, card) in made.items():
        images = list(card.get("images") or [])
        out[m.IMPORTED].append(Binding(
            connection=conn, kind=m.IMPORTED, local_id=str(pid), external_id=offer, synced_at=now,
            local_hash=bindings.digest(draft.to_json()), remote_hash=bindings.digest(card), last_origin=bindings.REMOTE,
            data={"name": draft.texts[next(iter(draft.texts))].name, "images": images,
                  "without_images": bool(images), "without_category": not draft.category_ids,
                  "imported_at": now.isoformat(), "ozon_product_id": card.get("id")}))
        row = rows.get(pid)  # None: not in the store's enabled products (or not in the chosen categories)
        if row is not None:
            item, _ = mappers.product_item(row, cfg, cfg.category_for(row.get("category_ids") or []), dictionaries)
            out[m.PRODUCT].append(Binding(
                connection=conn, kind=m.PRODUCT, local_id=str(pid), external_id=offer,
                local_hash=mappers.card_hash(item), synced_at=now,
                data={"status": "imported", "ever_live": True, "origin": "ozon", "name": item["name"],
                      "source": mappers.row_fingerprint(row, settings_fp), "ozon_product_id": card.get("id")}))
            price = mappers.price_item(row, cfg)
            out[m.PRICE].append(Binding(connection=conn, kind=m.PRICE, local_id=str(pid), external_id=offer,
                                        local_hash=f"{price['price']}|{price['old_price']}", synced_at=now,
                                        data={"times": [], "origin": "ozon"}))
            qty = str(mappers.free_stock(row))
            # synced_at stays empty: nothing was sent, so Ozon's 30 s per-pair interval has not started
            out[m.STOCK] += [Binding(connection=conn, kind=m.STOCK, local_id=f"{pid}:{wh}", external_id=f"{offer}:{wh}",
                                     local_hash=qty, data={"origin": "ozon"}) for wh in cfg.warehouse_ids]
    with transaction.atomic():
        for kind, rows_out in out.items():
            if rows_out:
                Binding.objects.bulk_create(rows_out, batch_size=500, update_conflicts=True,
                                            unique_fields=["connection", "kind", "local_id"],
                                            update_fields=["external_id", "local_hash", "remote_hash", "last_origin",
                                                           "synced_at", "data"])
    log.info("ozon: imported %d cards into store %s", len(made), ctx.store.pk)


def run(ctx) -> int:
    """One import round: every Ozon-only card, in batches; returns how many products were made."""
    why = importable(ctx.cfg)
    if why:
        from ocbridge.core.errors import ConfigurationError

        raise ConfigurationError(why)
    offers = ozon_only(ctx.client, ctx.connection, ctx.store, ctx.cfg)
    total = 0
    for batch in rules.chunks(offers, BATCH):
        total += len(import_batch(ctx, batch))
    return total
