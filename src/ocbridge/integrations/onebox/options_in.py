"""Options, option values, special prices and quantity discounts of a product OneBox changed, as the shop's product
write takes them (called by jobs.ProductIn).

OneBox carries options inside its products (`options[]` with `code`, `namelang`, `values[]` — the shape we send
[SIM]). Each option and each value has a Binding (`onebox.option`: option_id ↔ OneBox's code; `onebox.option_value`:
option_value_id ↔ its code): one OneBox has not seen from us is created in the shop (or found by its name) through
the journaled option write; one whose names changed in OneBox is renamed there, by the owner's rule for options
when the shop renamed it too (logged). Our own codes (`oc-opt<id>`, `oc-ov<id>`) name the shop's rows directly.

Special prices and discounts are written only when OneBox's list differs from what the shop would send (so the
shop's rows for customer groups not in the owner's map are never touched unless OneBox changed them); OneBox's
contact group comes back through the map, 0 as the shop's default customer group. A group the map does not know
is refused with the reason (the record is listed and retried after the owner maps it).
"""

from __future__ import annotations

from decimal import Decimal

from ocbridge.core import bindings, clock
from ocbridge.core.errors import TerminalError
from ocbridge.core.models import Binding, Integration
from ocbridge.integrations.onebox import mappers, matching, models as m, shop
from ocbridge.opencart.option_model import OptionDraft, OptionValueDraft
from ocbridge.opencart.product_model import OptionChoice, PriceRule, ProductOption


def _ours(code: str, prefix: str) -> int | None:
    rest = code[len(prefix):] if code.startswith(prefix) else ""
    return int(rest) if rest.isdigit() else None


def _names(texts: dict) -> dict[int, str]:
    return {lid: name for lid, (name, _d) in texts.items()}


def product_options(integration: Integration, cfg, record: dict, *, key: str, seen, stock: bool) -> list[ProductOption]:
    """The product's options as the draft takes them; options and values written or bound first."""
    store = integration.store
    languages = shop.languages(store)
    out = []
    for o in record.get("options") or []:
        if not isinstance(o, dict):
            continue
        code = str(o.get("code") or "").strip()
        if not code:
            raise TerminalError("onebox", "option", f"an option of {record.get('articul') or record.get('id')} has no code")
        option_id, value_ids = take_option(integration, cfg, o, languages, key=key, seen=seen)
        out.append(ProductOption(option_id, [
            OptionChoice(value_ids[str(v.get("code") or "")], Decimal(mappers.money(v.get("price") or 0)),
                         quantity=int(v["stock"]) if stock and v.get("stock") not in (None, "") else None)
            for v in o.get("values") or [] if isinstance(v, dict)]))
    return out


def take_option(integration: Integration, cfg, o: dict, languages: dict[int, str], *, key: str,
                seen) -> tuple[int, dict[str, int]]:
    """One OneBox option with its values in the shop: (option_id, {value code: option_value_id})."""
    store, conn_id = integration.store, integration.connection_id
    code = str(o["code"])
    key = f"{key}:{bindings.digest(mappers.options_view([o]))}"  # this OneBox version of the option (≤ 200 chars)
    _finish_interrupted(store, key)
    ob = Binding.objects.filter(connection_id=conn_id, kind=m.OPTION, external_id=code).first()
    option_id = int(ob.local_id) if ob else _ours(code, "oc-opt")
    current = shop.options(store, [option_id]).get(option_id) if option_id else None
    if current is None:
        option_id = _same_option(integration, o, cfg, languages)
        current = shop.options(store, [option_id]).get(option_id) if option_id else None
    names = _names(mappers.texts_by_language(o, cfg, languages, creating=current is None))
    write_names = current is None or _changed(integration, cfg, ob, m.OPTION, option_id, current["names"], o, languages,
                                              seen)
    values, todo = [v for v in o.get("values") or [] if isinstance(v, dict)], []
    bound = {b.external_id: b for b in Binding.objects.filter(
        connection_id=conn_id, kind=m.OPTION_VALUE, external_id__in=[str(v.get("code") or "") for v in values])}
    for v in values:
        vcode = str(v.get("code") or "")
        vb = bound.get(vcode)
        vid = int(vb.local_id) if vb else _ours(vcode, "oc-ov")
        if vid is not None and (current is None or vid not in current["values"]):
            vid = None  # not a value of this option in the shop (any more): found by name or made
        vnames = _names(mappers.texts_by_language(v, cfg, languages, creating=vid is None))
        if vid is None or _changed(integration, cfg, vb, m.OPTION_VALUE, vid, current["values"][vid], v, languages, seen):
            todo.append((vcode, OptionValueDraft(vnames, option_value_id=vid), v))
    value_ids = {str(v.get("code") or ""): int(_ours_or_bound(bound, v, current)) for v in values
                 if _ours_or_bound(bound, v, current) is not None}
    if write_names or todo:
        draft = OptionDraft(names if write_names else {}, [d for _c, d, _v in todo],
                            type="select" if current is None else None)
        version = bindings.digest([names if write_names else {}, [(c, d.names, d.option_value_id) for c, d, _v in todo]])
        written = shop.upsert_option(store, draft, key=f"{key}:{version}", option_id=option_id if current else None)
        option_id = written.option_id
        for (vcode, _d, v), vid in zip(todo, written.value_ids):
            value_ids[vcode] = vid
            _bind(integration, cfg, m.OPTION_VALUE, vid, vcode, v, languages)
    if write_names or ob is None:
        _bind(integration, cfg, m.OPTION, option_id, code, o, languages)
    for v in values:  # our own values OneBox did not change: bound on first sight
        vcode = str(v.get("code") or "")
        if vcode not in bound and vcode in value_ids and vcode not in {c for c, _d, _v in todo}:
            _bind(integration, cfg, m.OPTION_VALUE, value_ids[vcode], vcode, v, languages)
    return option_id, value_ids


def _finish_interrupted(store, key: str) -> None:
    """An option write for this OneBox version a crash interrupted is finished first, as journaled (what it wrote
    is then not taken for a change made in the shop)."""
    from ocbridge.opencart.models import ShopWrite

    for row in ShopWrite.objects.filter(store=store, kind="option", key__startswith=f"{key}:").exclude(
            state__in=[ShopWrite.State.DONE, ShopWrite.State.FAILED]):
        shop.upsert_option(store, OptionDraft.from_json(row.request["draft"]), key=row.key,
                           option_id=row.request["option_id"])


def _ours_or_bound(bound: dict, v: dict, current: dict | None) -> int | None:
    vcode = str(v.get("code") or "")
    vid = int(bound[vcode].local_id) if vcode in bound else _ours(vcode, "oc-ov")
    return vid if current is not None and vid in current["values"] else None


def _same_option(integration: Integration, o: dict, cfg, languages) -> int | None:
    """A shop option not bound yet with the same name in one language (no second "Colour")."""
    wanted = {lid: matching.name_key(n) for lid, n in _names(mappers.texts_by_language(
        o, cfg, languages, creating=True)).items() if n.strip()}
    taken = set(Binding.objects.filter(connection_id=integration.connection_id, kind=m.OPTION)
                .values_list("local_id", flat=True))
    for oid, opt in sorted(shop.options(integration.store).items()):
        if str(oid) not in taken and any(matching.name_key(opt["names"].get(lid)) == n for lid, n in wanted.items()):
            return oid
    return None


def _shop_hash(cfg, names: dict[int, str], languages) -> str:
    return bindings.digest(mappers.names(names, cfg, languages))


def _remote_hash(record: dict) -> str:
    return bindings.digest(dict(record.get("namelang") or {}) or {"": str(record.get("name") or "")})


def _changed(integration: Integration, cfg, b: Binding | None, kind: str, local_id: int, shop_names: dict, record: dict,
             languages, seen) -> bool:
    """Whether OneBox's names of an option (value) are to be written into the shop: OneBox changed them since
    the last sync (first sight: they differ from the shop's, which the shop sends with every product) and, when
    the shop changed them too, the owner's rule for options says OneBox's win (the conflict is logged)."""
    local_now, remote_now = _shop_hash(cfg, shop_names, languages), _remote_hash(record)
    theirs, ours = dict(record.get("namelang") or {}), mappers.names(shop_names, cfg, languages)
    if all(ours.get(code) == name for code, name in theirs.items()):
        if b is not None:  # both hold OneBox's names (ours written before a crash, or the same change on both)
            bindings.record(b, local_hash=local_now, remote_hash=remote_now, origin=b.last_origin or bindings.REMOTE)
        return False
    if b is None:
        return bool(theirs)
    decision = bindings.decide(b, local_now, remote_now, cfg.rule("option"), local_seen_at=None, remote_seen_at=seen)
    if decision.conflict:
        m.Conflict.objects.create(integration=integration, kind=kind.split(".")[1], local_id=str(local_id),
                                  rule=cfg.rule("option"), winner=decision.write_to,
                                  lost={"shop": shop_names, "onebox": record.get("namelang")}, created=clock.now())
    if decision.write_to != bindings.LOCAL:
        if decision.write_to is None or decision.baseline:
            return False
        bindings.record(b, local_hash=b.local_hash, remote_hash=remote_now, origin=bindings.LOCAL)  # the shop's stay
    return decision.write_to == bindings.LOCAL


def _bind(integration: Integration, cfg, kind: str, local_id: int, code: str, record: dict, languages) -> None:
    """Both sides agree now: the shop's names (as read back) and OneBox's view are recorded."""
    store = integration.store
    if kind == m.OPTION:
        names = shop.options(store, [local_id]).get(local_id, {}).get("names", {})
    else:
        names = next((opt["values"][local_id] for opt in shop.options(store).values() if local_id in opt["values"]), {})
    b, _ = Binding.objects.get_or_create(connection_id=integration.connection_id, kind=kind, local_id=str(local_id),
                                         defaults={"external_id": code})
    b.external_id = code
    bindings.record(b, local_hash=_shop_hash(cfg, names, languages), remote_hash=_remote_hash(record),
                    origin=bindings.REMOTE, save=False)
    b.data = {**b.data, "state": m.OK}
    b.save()


def price_rules(integration: Integration, cfg, rules: list[dict], *, quantity: bool) -> list[PriceRule]:
    """OneBox's `specials[]` / `discounts[]` as the shop's rows: contact group → customer group by the owner's map
    (0 → the shop's default group); a group the map does not name is refused with the reason."""
    back = {int(v): int(k) for k, v in cfg.group_map.items()}
    default = shop.default_customer_group(integration.store)
    out = []
    for r in rules:
        group = int(r.get("groupid") or 0)
        if group and group not in back:
            raise TerminalError("onebox", "group", f"OneBox contact group {group} is not mapped to a customer group "
                                                   "(settings: Customer groups)")
        out.append(PriceRule(back.get(group, default), Decimal(mappers.money(r.get("price") or 0)),
                             priority=int(r.get("priority") or 1), quantity=int(r.get("quantity") or 0) if quantity else 0,
                             date_start=mappers._day(r.get("from")), date_end=mappers._day(r.get("to"))))
    return out
