"""OpenCart records → OneBox v2 bodies (docs/providers/onebox.md §4; fields tagged [SIM] there are simulator only).

Pure functions: no database, no network. Every body is what its Binding's hash is taken of, so a record is sent
again only when what OneBox would receive changed.
"""

from __future__ import annotations

from decimal import Decimal

from ocbridge.core.bindings import digest
from ocbridge.integrations.onebox.config import OneBoxConfig
from ocbridge.opencart.fulfilment import FulfilmentOrder

FMT = "%Y-%m-%d %H:%M:%S"


def money(value) -> str:
    """OpenCart keeps 4 decimals; OneBox gets the amount as the customer saw it (2)."""
    return str(Decimal(str(value)).quantize(Decimal("0.01")))


def _address(a: dict) -> str:
    parts = [a.get(k) for k in ("address_1", "address_2", "city", "postcode", "zone", "country")]
    return ", ".join(str(p) for p in parts if p)


def contact_key(order_or_customer) -> str:
    """Our contact externalid: the customer account, else the guest's e-mail (lower-cased), else the phone."""
    cid = getattr(order_or_customer, "customer_id", None) if not isinstance(order_or_customer, dict) \
        else order_or_customer.get("customer_id")
    if cid:
        return f"oc-c{cid}"
    email = (getattr(order_or_customer, "email", "") if not isinstance(order_or_customer, dict)
             else order_or_customer.get("email", "")) or ""
    return f"oc-e:{email.strip().lower()}" if email.strip() else ""


def contact_body(row: dict, group_id: int | None) -> dict:
    """contact/set for one shop customer (its `row`: names, e-mail, telephone); `group_id`: the OneBox contact group
    its customer group maps to, if any."""
    body = {"externalid": contact_key(row), "name": row["firstname"], "namelast": row["lastname"],
            "email": row["email"], "phone": row["telephone"], "phones": [row["telephone"]] if row["telephone"] else [],
            "findbyArray": ["externalid", "phone"]}
    if group_id:
        body["groupid"] = int(group_id)
    return body


def contact_view(record: dict) -> dict:
    """What both sides of a contact are compared on: the fields that travel both ways. A body we send and the contact
    OneBox answers with give the same view when they agree (echoes are recognised by its hash)."""
    phones = [str(p) for p in record.get("phones") or [] if p]
    return {"name": str(record.get("name") or "").strip(), "namelast": str(record.get("namelast") or "").strip(),
            "email": str(record.get("email") or "").strip().lower(),
            "phone": str(record.get("phone") or (phones[0] if phones else "")).strip(),
            "groupid": int(record.get("groupid") or 0)}


def customer_fields(record: dict) -> dict:
    """A OneBox contact as the shop's customer write takes it (opencart.writes.upsert_customer)."""
    view = contact_view(record)
    return {"firstname": view["name"], "lastname": view["namelast"], "email": str(record.get("email") or "").strip(),
            "telephone": view["phone"]}


def group_names(record: dict, cfg: OneBoxConfig, languages: dict[int, str]) -> dict[int, str]:
    """A OneBox contact group's name per shop language: its `namelang` [SIM] by the language map, else its name."""
    by_code = record.get("namelang") or {}
    name = str(record.get("name") or "").strip()
    out = {}
    for lid, code in languages.items():
        text = str(by_code.get(cfg.language_map.get(str(lid)) or (code or "").split("-")[0]) or "").strip()
        if text or name:
            out[lid] = text or name
    return out


def group_view(record: dict) -> dict:
    return {"name": str(record.get("name") or "").strip(), "namelang": dict(record.get("namelang") or {})}


def client(fo: FulfilmentOrder) -> dict:
    """The order's customer as OneBox's `client` block, matched on our externalid, then the phone [HUB]."""
    o = fo.order
    body = {"name": o.firstname, "namelast": o.lastname, "email": o.email, "phone": o.telephone,
            "phones": [o.telephone] if o.telephone else [], "findbyArray": ["externalid", "phone"]}
    key = contact_key(o)
    if key:
        body["externalid"] = key
    return body


def order_body(fo: FulfilmentOrder, cfg: OneBoxConfig, store, *, status_id: int | None) -> dict:
    """order/set for one order: code `<prefix>-<order_id>`, lines, totals, customer, payment and shipping."""
    o = fo.order
    body = {
        "externalid": cfg.order_code(store, o.order_id), "name": cfg.order_code(store, o.order_id),
        "date": o.date_added.strftime(FMT) if o.date_added else "",
        "products": [{"name": line.name, "articul": (fo.skus.get(line.product_id) or {}).get("sku") or line.model,
                      "count": line.quantity, "price": money(line.price),
                      "comment": "; ".join(f"{opt.get('name')}: {opt.get('value')}" for opt in line.options)}
                     for line in o.lines],
        "sum": money(o.total), "currency": o.currency_code,
        "totals": [{"code": t["code"], "title": t["title"], "value": money(t["value"])}
                   for t in sorted(o.totals, key=lambda t: (t.get("sort_order", 0), t["code"]))],  # [SIM]
        "client": client(fo),
        "clientphone": o.telephone, "clientemail": o.email,
        "payment": o.payment_method, "delivery": fo.shipping_method,  # [SIM] names of these fields
        "deliveryaddress": _address(fo.shipping) or _address(fo.payment),  # [SIM]
        "comment": o.comment,
    }
    if cfg.workflow_id:
        body["workflowid"] = cfg.workflow_id
    if status_id:
        body["statusid"] = status_id
    return body


def order_hash(body: dict) -> str:
    """What decides a resend: the order's content without its status (statuses sync on their own)."""
    return digest({k: v for k, v in body.items() if k != "statusid"})


def history_comment(cfg: OneBoxConfig, store, order_id: int, history_id: int, onebox_order_id: int, *, status: str,
                    comment: str) -> dict:
    """comment/set [SIM]: one OpenCart history entry as a comment on the OneBox order, unique on our externalid."""
    text = f"{status}: {comment}".strip().rstrip(":") if comment else status
    return {"orderid": int(onebox_order_id), "externalid": f"{cfg.order_code(store, order_id)}-h{history_id}",
            "text": text}


def from_onebox_comment(status_name: str) -> str:
    """The history comment we write in the shop for a status OneBox set (also how we recognise its echo)."""
    return f"OneBox: {status_name}"


def names(values: dict[int, str], cfg: OneBoxConfig, languages: dict[int, str]) -> dict[str, str]:
    """{OneBox language code: text} for every shop language (the owner's map, else the shop's code's first part)."""
    out = {}
    for lang_id, text in sorted(values.items()):
        code = cfg.language_map.get(str(lang_id)) or (languages.get(lang_id) or str(lang_id)).split("-")[0]
        out[code] = text
    return out


def category_code(category_id: int, codes: dict | None = None) -> str:
    """A category's code in OneBox: ours (`oc-cat<id>`), or the code OneBox gave one created there."""
    return (codes or {}).get(str(category_id), f"oc-cat{category_id}")


def category_body(row: dict, cfg: OneBoxConfig, languages: dict[int, str], default_lang: int,
                  codes: dict | None = None) -> dict:
    """category/set [SIM]. `codes`: local id → OneBox's own code of categories that came from OneBox."""
    return {"code": category_code(row["category_id"], codes),
            "name": row["names"].get(default_lang) or next(iter(row["names"].values()), ""),
            "namelang": names(row["names"], cfg, languages), "descriptionlang": names(row["descriptions"], cfg, languages),
            "parentcode": category_code(row["parent_id"], codes) if row["parent_id"] else "",
            "hidden": 0 if row["status"] else 1, "findbyArray": ["code"]}


def brand_body(row: dict, codes: dict | None = None) -> dict:
    return {"code": (codes or {}).get(str(row["manufacturer_id"]), f"oc-brand{row['manufacturer_id']}"),
            "name": row["name"], "findbyArray": ["code"], **({"image": [row["image"]]} if row["image"] else {})}


def product_articul(p) -> str:
    return p.sku or p.model or f"oc-p{p.product_id}"


def _day(value) -> str:
    text = str(value or "")
    return "" if text.startswith("0000") or text in ("None", "") else text[:10]


def product_body(p, options: list[dict], cfg: OneBoxConfig, languages: dict[int, str], default_lang: int,
                 image_base: str = "", specials: list[dict] | None = None, *, stock: bool = True,
                 discounts: list[dict] | None = None, filters: list[dict] | None = None,
                 option_codes: dict | None = None) -> dict:
    """product/set: articul, names and descriptions per language, price (or the owner's price level), stock,
    category and brand codes, images by URL, options with their values, special prices and quantity discounts per
    customer group, filters with their names per language. `option_codes` ("o<id>" / "v<id>" → code): OneBox's
    own codes of options and values that came from OneBox (ours are `oc-opt<id>` / `oc-ov<id>`)."""
    price, codes = money(p.price), option_codes or {}
    body = {
        "articul": product_articul(p), "name": p.names.get(default_lang) or next(iter(p.names.values()), ""),
        "namelang": names(p.names, cfg, languages), "descriptionlang": names(p.descriptions, cfg, languages),
        "categorycodes": [f"oc-cat{c}" for c in sorted(p.category_ids)],
        "brandcode": f"oc-brand{p.manufacturer_id}" if p.manufacturer_id else "",
        "images": [image_base + i for i in ([p.image] if p.image else []) + p.images],
        "stock": p.quantity, "hidden": 0 if p.status else 1,
        "options": [{"code": codes.get(f"o{o['option_id']}", f"oc-opt{o['option_id']}"),
                     "namelang": names(o["names"], cfg, languages),
                     "values": [{"code": codes.get(f"v{v['option_value_id']}", f"oc-ov{v['option_value_id']}"),
                                 "namelang": names(v["names"], cfg, languages),
                                 "price": v["price"], "stock": v["quantity"]} for v in o["values"]]}
                    for o in options],
        "findbyArray": ["articul"],
    }
    if not stock:  # OneBox is the store's stock source: the shop's quantities are not sent to it
        body.pop("stock")
        for o in body["options"]:
            for v in o["values"]:
                v.pop("stock")
    if specials:  # [SIM] the field and its shape; the contact group by the owner's map
        body["specials"] = [{"groupid": int(cfg.group_map.get(str(x["customer_group_id"])) or 0),
                             "price": money(x["price"]), "priority": x["priority"], "from": _day(x["date_start"]),
                             "to": _day(x["date_end"])} for x in specials]
    if discounts:  # [SIM] the field and its shape, as specials plus the quantity the price starts at
        body["discounts"] = [{"groupid": int(cfg.group_map.get(str(x["customer_group_id"])) or 0),
                              "quantity": x["quantity"], "price": money(x["price"]), "priority": x["priority"],
                              "from": _day(x["date_start"]), "to": _day(x["date_end"])} for x in discounts]
    if filters:  # [SIM] the field and its shape
        body["filters"] = [{"code": f"oc-filter{x['filter_id']}", "groupcode": f"oc-fg{x['filter_group_id']}",
                            "namelang": names(x["names"], cfg, languages)} for x in filters]
    if cfg.price_level:
        body["pricelevels"] = {cfg.price_level: price}  # [SIM]
    else:
        body["price"] = price
    return body


# --- OneBox → shop ---------------------------------------------------------------------------------------------

PRODUCT_VIEW = ("articul", "name", "namelang", "descriptionlang", "price", "stock", "hidden")


def product_view(record: dict) -> dict:
    """What both sides of a product are compared on: the fields that travel both ways (with its options, special
    prices and quantity discounts). A body we send and the record OneBox answers with give the same view when they
    agree (echoes are recognised by its hash)."""
    view = {k: record.get(k) for k in PRODUCT_VIEW}
    view["price"] = money(record["price"]) if record.get("price") not in (None, "") else None
    view["stock"] = int(record.get("stock") or 0)
    view["hidden"] = int(record.get("hidden") or 0)
    view["namelang"] = dict(record.get("namelang") or {})
    view["descriptionlang"] = dict(record.get("descriptionlang") or {})
    view["options"] = options_view(record.get("options"))
    view["specials"] = price_rules_view(record.get("specials"))
    view["discounts"] = price_rules_view(record.get("discounts"))
    return view


def options_view(options) -> list:
    """Options as both sides compare them: codes, names per language, each value's price and stock."""
    return [{"code": str(o.get("code") or ""), "namelang": dict(o.get("namelang") or {}),
             "values": [{"code": str(v.get("code") or ""), "namelang": dict(v.get("namelang") or {}),
                         "price": money(v.get("price") or 0),
                         "stock": None if v.get("stock") in (None, "") else int(v["stock"])}
                        for v in o.get("values") or [] if isinstance(v, dict)]}
            for o in options or [] if isinstance(o, dict)]


def price_rules_view(rules) -> list:
    """Special prices or quantity discounts as both sides compare them (order kept: OneBox lists them as sent)."""
    return [{"groupid": int(r.get("groupid") or 0), "quantity": int(r.get("quantity") or 0),
             "price": money(r.get("price") or 0), "priority": int(r.get("priority") or 0),
             "from": _day(r.get("from")), "to": _day(r.get("to"))} for r in rules or [] if isinstance(r, dict)]


def product_draft(record: dict, cfg: OneBoxConfig, languages: dict[int, str], store_id: int, *, creating: bool,
                  stock: bool, options=None, specials=None, discounts=None):
    """A OneBox product as the shop's product write takes it: texts in every language OneBox has (by the owner's
    language map), price, stock, status, categories we sent (our codes), and the options, special prices and
    discounts options_in prepared (None: left as the shop has them). Images are left to the owner: the shop
    needs files under image/ (DESIGN: only with the extension's upload endpoint). The quantity only when OneBox is
    the store's stock source (`stock`)."""
    from ocbridge.opencart.product_model import ProductDraft, Text

    texts = {lid: Text(name=n, description=d)
             for lid, (n, d) in texts_by_language(record, cfg, languages, creating=creating).items()}
    cats = [int(c[6:]) for c in record.get("categorycodes") or [] if str(c).startswith("oc-cat") and c[6:].isdigit()]
    articul = str(record.get("articul") or f"onebox-{record['id']}")
    return ProductDraft(
        model=articul, sku=articul, texts=texts,
        price=Decimal(str(record["price"])) if record.get("price") not in (None, "") else None,
        quantity=int(record["stock"]) if stock and record.get("stock") not in (None, "") else None,
        status=not int(record.get("hidden") or 0), store_ids=[store_id] if creating else None,
        category_ids=cats if record.get("categorycodes") is not None else None, options=options, specials=specials,
        discounts=discounts)


def category_view(record: dict) -> dict:
    """What both sides of a category are compared on (a body we send and OneBox's record of it give the same
    view, so our own write read back is an echo). The parent by its code, else OneBox's id of it [DOC]."""
    parent = str(record.get("parentcode") or "") or (f"#{record['parentid']}" if record.get("parentid") else "")
    return {"name": str(record.get("name") or ""), "namelang": dict(record.get("namelang") or {}),
            "descriptionlang": dict(record.get("descriptionlang") or {}), "parent": parent,
            "hidden": int(record.get("hidden") or 0)}


def brand_view(record: dict) -> dict:
    """A brand is compared on its name (OpenCart's manufacturer has one name, no languages)."""
    return {"name": str(record.get("name") or "").strip()}


def texts_by_language(record: dict, cfg: OneBoxConfig, languages: dict[int, str], *, creating: bool) -> dict:
    """language_id → (name, description) from OneBox's `namelang`/`descriptionlang` by the owner's language map;
    a language OneBox has no name for gets the record's `name` only when the record is new in the shop."""
    code_of = {lid: (cfg.language_map.get(str(lid)) or (code or "").split("-")[0]) for lid, code in languages.items()}
    names_, descriptions = record.get("namelang") or {}, record.get("descriptionlang") or {}
    return {lid: (str(names_.get(code) or record.get("name") or ""), str(descriptions.get(code) or ""))
            for lid, code in code_of.items() if names_.get(code) or (record.get("name") and creating)}


def category_draft(record: dict, cfg: OneBoxConfig, languages: dict[int, str], *, parent_id: int, store_id: int,
                   creating: bool):
    """A OneBox category as the shop's category write takes it: names and descriptions per language, parent,
    status (OneBox's `hidden`), the store on create. Images and SEO URLs are left to the owner."""
    from ocbridge.opencart.category_model import CategoryDraft, CategoryText

    texts = {lid: CategoryText(name=n, description=d)
             for lid, (n, d) in texts_by_language(record, cfg, languages, creating=creating).items()}
    return CategoryDraft(texts=texts, parent_id=parent_id, status=not int(record.get("hidden") or 0),
                         store_ids=[store_id] if creating else None)
