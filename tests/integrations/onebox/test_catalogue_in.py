"""The catalogue coming in from OneBox, on MariaDB 3.0 and 4.0 shops ↔ jobs ↔ the OneBox simulator over HTTP:
categories (parents first, every language, OpenCart's category paths) and brands created or changed in OneBox
reach the shop once, through the shop's journaled writes; our own writes read back are not sent out again; a
worker killed mid-write leaves one clean write; both sides changed → the owner's rule, logged.

Record shapes: category/get and brand/get answers as the simulator serves them (docs/providers/onebox.md §4
[SIM]); `parentid` / `parentcode` / `code` / `hidden` as OneBox's category page documents them
(https://1b.app/en/api/category/ [DOC])."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from integrations.onebox.crashes import handed_out_again, killed_at
from ocbridge.core.jobs import run_until_idle
from ocbridge.core.models import Binding
from ocbridge.integrations.onebox import catalogue_in, jobs, models as m
from ocbridge.opencart.models import ShopWrite

pytestmark = pytest.mark.django_db


def both_ways(integration, **rules) -> None:
    integration.settings = {**integration.settings, "flows": {"category": "both", "brand": "both"},
                            "conflict_rules": rules}
    integration.save()


def start(integration, kit) -> None:
    """The shop's catalogue out, then OneBox's first read (it starts its window)."""
    kit.run(jobs.SyncCatalog, integration)
    kit.poll_onebox(integration)


def categories(shop) -> dict[int, dict]:
    c, cd, cp, cs = (shop.t(n) for n in ("category", "category_description", "category_path", "category_to_store"))
    with shop.engine.connect() as conn:
        out = {r.category_id: {"parent": r.parent_id, "status": r.status, "names": {}, "path": [], "stores": []}
               for r in conn.execute(sa.select(c.c.category_id, c.c.parent_id, c.c.status))}
        for r in conn.execute(sa.select(cd.c.category_id, cd.c.language_id, cd.c.name)):
            out[r.category_id]["names"][r.language_id] = r.name
        for r in conn.execute(sa.select(cp).order_by(cp.c.level)):
            out[r.category_id]["path"].append(r.path_id)
        for r in conn.execute(sa.select(cs)):
            out[r.category_id]["stores"].append(r.store_id)
    return out


def manufacturers(shop) -> dict[int, str]:
    t = shop.t("manufacturer")
    with shop.engine.connect() as conn:
        return dict(conn.execute(sa.select(t.c.manufacturer_id, t.c.name)).all())


def bound(kind, external) -> Binding:
    return Binding.objects.get(kind=kind, external_id=str(external))


def test_categories_and_brands_made_in_onebox_reach_the_shop_once_parents_first(shop, sim, integration, kit):
    both_ways(integration)
    start(integration, kit)
    sets = (sim.calls()["category/set"], sim.calls()["brand/set"])
    # a parent under a category the shop sent, its child, then the parent edited: the child is read first
    parent = sim.add("category", code="K-KITCHEN", name="Kitchen", parentcode="oc-cat10")
    child = sim.add("category", code="K-TEA", name="Teapots", namelang={"en": "Teapots", "ru": "Чайники"},
                    parentcode="K-KITCHEN")
    sim.edit("category", "code", "K-KITCHEN", namelang={"en": "Kitchen", "tr": "Mutfak"}, hidden=1)
    zeta = sim.add("brand", code="B-Z", name="Zeta & Co")
    kit.poll(integration)
    cats = categories(shop)
    p, c = int(bound(m.CATEGORY, parent["id"]).local_id), int(bound(m.CATEGORY, child["id"]).local_id)
    assert cats[p]["parent"] == 10 and cats[p]["path"] == [10, p] and cats[p]["status"] == 0
    assert cats[c]["parent"] == p and cats[c]["path"] == [10, p, c] and cats[c]["stores"] == [0]
    assert cats[p]["names"] == {1: "Kitchen", 2: "Mutfak", 3: "Kitchen"}  # every language has a row
    assert cats[c]["names"] == {1: "Teapots", 2: "Teapots", 3: "Чайники"}
    assert manufacturers(shop)[int(bound(m.BRAND, zeta["id"]).local_id)] == "Zeta &amp; Co"  # as the admin stores it
    assert len(cats) == 4 and len(manufacturers(shop)) == 2
    for _ in range(2):  # read back and compared again: echoes, nothing sent to OneBox, nothing written twice
        kit.run(jobs.SyncCatalog, integration)
        kit.poll(integration)
    assert (sim.calls()["category/set"], sim.calls()["brand/set"]) == sets
    assert len(categories(shop)) == 4 and len(manufacturers(shop)) == 2
    assert ShopWrite.objects.filter(kind="category").count() == 2 and ShopWrite.objects.filter(kind="manufacturer").count() == 1
    assert bound(m.CATEGORY, child["id"]).data["code"] == "K-TEA"  # OneBox's own code is kept


def test_a_change_in_onebox_is_written_once_and_the_shops_later_change_goes_out_under_oneboxs_code(
        shop, sim, integration, kit):
    both_ways(integration)
    start(integration, kit)
    sim.edit("category", "code", "oc-cat20", namelang={"en": "Cups", "tr": "Fincan", "ru": "Чашки"})
    sim.edit("brand", "code", "oc-brand7", name="Acme Ltd")
    made = sim.add("brand", code="B-Q", name="Quux")
    sets = (sim.calls()["category/set"], sim.calls()["brand/set"])
    kit.poll(integration)
    kit.poll(integration)
    kit.run(jobs.SyncCatalog, integration)
    assert categories(shop)[20]["names"] == {1: "Cups", 2: "Fincan", 3: "Чашки"}
    assert manufacturers(shop)[7] == "Acme Ltd"
    assert (sim.calls()["category/set"], sim.calls()["brand/set"]) == sets  # not sent back
    assert ShopWrite.objects.filter(kind="category").count() == 1
    quux = int(bound(m.BRAND, made["id"]).local_id)
    t = shop.t("manufacturer")
    with shop.engine.begin() as conn:  # the owner renames the brand made in OneBox
        conn.execute(sa.update(t).where(t.c.manufacturer_id == quux).values(name="Quux GmbH"))
    kit.run(jobs.SyncCatalog, integration)
    brands = {b["id"]: b for b in sim.records("brand")}
    assert len(brands) == 2 and brands[made["id"]]["name"] == "Quux GmbH" and brands[made["id"]]["code"] == "B-Q"
    kit.poll(integration)
    assert manufacturers(shop)[quux] == "Quux GmbH" and ShopWrite.objects.filter(kind="manufacturer").count() == 2


def test_a_worker_killed_mid_write_leaves_one_clean_category(shop, sim, integration, kit):
    from ocbridge.opencart import writes

    both_ways(integration)
    start(integration, kit)
    made = sim.add("category", code="K-NEW", name="Saucers", namelang={"en": "Saucers", "ru": "Блюдца"})

    with killed_at(writes, "stores", "before"):
        kit.poll(integration)
    handed_out_again(catalogue_in.CatalogueIn)
    kit.poll(integration)
    cats = categories(shop)
    assert len(cats) == 3  # one new category, not two
    new = cats[int(bound(m.CATEGORY, made["id"]).local_id)]
    assert new["names"] == {1: "Saucers", 2: "Saucers", 3: "Блюдца"} and new["stores"] == [0] and new["path"]
    assert ShopWrite.objects.get(kind="category").state == "done"


@pytest.mark.parametrize("rule, shop_name, onebox_name, winner", [
    ("shop", "Shop cups", "Shop cups", "remote"), ("service", "Box cups", "Box cups", "local"),
    ("newest", "Box cups", "Box cups", "local")])
def test_both_sides_changed_the_rule_decides_and_the_conflict_is_logged(shop, sim, integration, kit, rule,
                                                                         shop_name, onebox_name, winner):
    import datetime as dt

    both_ways(integration, category=rule)
    start(integration, kit)
    cd, c = shop.t("category_description"), shop.t("category")
    with shop.engine.begin() as conn:  # the shop's change is older than OneBox's (newest: OneBox's wins)
        conn.execute(sa.update(cd).where(cd.c.category_id == 20, cd.c.language_id == 1).values(name="Shop cups"))
        conn.execute(sa.update(c).where(c.c.category_id == 20).values(date_modified=dt.datetime(2025, 1, 1)))
    sim.edit("category", "code", "oc-cat20", name="Box cups", namelang={"en": "Box cups", "tr": "Cat20-tr",
                                                                         "ru": "Cat20-ru"})
    kit.poll(integration)
    kit.run(jobs.SyncCatalog, integration)
    kit.poll(integration)
    assert categories(shop)[20]["names"][1] == shop_name
    assert next(r for r in sim.records("category") if r["code"] == "oc-cat20")["namelang"]["en"] == onebox_name
    [conflict] = m.Conflict.objects.filter(kind="category")
    assert (conflict.local_id, conflict.rule, conflict.winner) == ("20", rule, winner)


def test_a_category_the_shop_refuses_is_listed_and_retry_takes_oneboxs_current_version(shop, sim, integration, kit):
    """Retry reads the record from OneBox again (as for contacts): a copy kept with the failure would write the
    name OneBox had then. A parent the shop lacks is read from OneBox and taken first."""
    both_ways(integration)
    start(integration, kit)
    parent = sim.add("category", code="K-POTS", name="P" * 300)  # over the admin form's 255 characters
    child = sim.add("category", code="K-LIDS", name="Lids", parentcode="K-POTS")
    kit.run(catalogue_in.CatalogueIn, integration, entity="category", records=[child], seen="")
    failed = {b.local_id: b.data for b in Binding.objects.filter(kind=m.CATEGORY, data__state=m.FAILED)}
    assert "255" in failed[f"onebox:{parent['id']}"]["error"]  # the parent, read from OneBox, refused for itself
    assert "K-POTS" in failed[f"onebox:{child['id']}"]["error"]  # the child: its parent is missing
    assert "record" not in failed[f"onebox:{child['id']}"]  # no copy kept
    sim.edit("category", "code", "K-POTS", name="Pots")
    sim.edit("category", "code", "K-LIDS", name="Lids and covers")
    jobs.retry(integration, m.CATEGORY, f"onebox:{child['id']}")
    run_until_idle()
    cats = categories(shop)
    p, c = int(bound(m.CATEGORY, parent["id"]).local_id), int(bound(m.CATEGORY, child["id"]).local_id)
    assert cats[c]["parent"] == p and cats[p]["names"][1] == "Pots" and cats[c]["names"][1] == "Lids and covers"
    assert not Binding.objects.filter(kind=m.CATEGORY, data__state=m.FAILED).exists() and len(cats) == 4


def test_categories_and_brands_onebox_had_before_are_loaded_once_resuming_after_a_crash(shop, sim, integration, kit):
    """The load pages through category/get and brand/get by offset and takes each record as the poll takes a
    change; a parent on a later page is read first; killed mid-step, it continues and writes nothing twice."""
    both_ways(integration)
    integration.settings = {**integration.settings, "history_batch": 2}
    integration.save()
    start(integration, kit)  # the shop's catalogue out: OneBox has oc-cat10, oc-cat20 and oc-brand7 (Acme)
    kitchen = sim.add("category", code="K-KITCHEN", name="Kitchen", parentcode="oc-cat10")
    tea = sim.add("category", code="K-TEA", name="Teapots", namelang={"en": "Teapots", "ru": "Чайники"},
                  parentcode="K-KITCHEN")
    sale = sim.add("category", code="K-SALE", name="Sale")
    sim.edit("category", "code", "K-KITCHEN", hidden=1)  # listed last now: its child comes a page before it
    zeta = sim.add("brand", code="B-Z", name="Zeta")
    sets = (sim.calls()["category/set"], sim.calls()["brand/set"])
    with killed_at(jobs, "load", sale["id"]):  # the third page's (each page starts one record early)
        jobs.start_load(integration, "category_in")
        run_until_idle()
    assert jobs.progress(integration, "category_in")["after"] == 3  # the killed step did not move the position
    handed_out_again(jobs.LoadStep)
    jobs.start_load(integration, "brand_in")
    run_until_idle()
    cats = categories(shop)
    k, t = int(bound(m.CATEGORY, kitchen["id"]).local_id), int(bound(m.CATEGORY, tea["id"]).local_id)
    assert cats[k]["parent"] == 10 and cats[k]["status"] == 0 and cats[t]["path"] == [10, k, t]
    assert cats[t]["names"] == {1: "Teapots", 2: "Teapots", 3: "Чайники"}
    assert len(cats) == 5 and ShopWrite.objects.filter(kind="category").count() == 3  # nothing written twice
    assert bound(m.CATEGORY, tea["id"]).data["code"] == "K-TEA"  # OneBox's id and code kept
    assert sorted(manufacturers(shop).values()) == ["Acme", "Zeta"] and bound(m.BRAND, zeta["id"]).data["code"] == "B-Z"
    for kind, done in (("category_in", 5), ("brand_in", 2)):
        p = jobs.progress(integration, kind)
        assert p["finished"] and (p["done"], p["total"]) == (done, done)
    kit.run(jobs.SyncCatalog, integration)  # what came in is not sent back
    assert (sim.calls()["category/set"], sim.calls()["brand/set"]) == sets
    assert not Binding.objects.filter(data__state=m.FAILED).exists()


def test_a_brand_onebox_had_with_a_shop_manufacturers_name_is_matched_not_duplicated(shop, sim, integration):
    integration.settings = {**integration.settings, "flows": {"brand": "in"}}
    integration.save()
    acme = sim.add("brand", code="B-ACME", name="Acme")
    jobs.start_load(integration, "brand_in")
    run_until_idle()
    assert manufacturers(shop) == {7: "Acme"} and bound(m.BRAND, acme["id"]).local_id == "7"


def test_the_load_of_a_kind_that_does_not_come_from_onebox_reads_nothing(shop, sim, integration):
    sim.add("category", code="K-X", name="X")
    jobs.start_load(integration, "category_in")  # categories go out only (the default)
    run_until_idle()
    assert jobs.progress(integration, "category_in")["finished"] and "category/get" not in sim.calls()
    assert len(categories(shop)) == 2


def test_the_settings_form_offers_categories_and_brands_from_onebox_with_their_own_rules(integration):
    from ocbridge.integrations.onebox.forms import OneBoxSettingsForm

    form = OneBoxSettingsForm.from_integration(integration, data={
        "status_rule": "shop", "product_rule": "shop", "contact_rule": "shop", "contact_group_rule": "shop",
        "category_rule": "service", "brand_rule": "newest", "option_rule": "service",
        **{f"flow_{k}": "out" for k in ("order", "history", "status", "product", "contact")},
        "flow_contact_group": "off", "flow_category": "in", "flow_brand": "both"})
    assert form.is_valid(), form.errors
    cfg = form.save(integration)
    assert (cfg.takes("category"), cfg.sends("category"), cfg.takes("brand"), cfg.sends("brand")) == (
        True, False, True, True)
    assert (cfg.rule("category"), cfg.rule("brand"), cfg.rule("option")) == ("service", "newest", "service")


def product_rows(shop, product_id: int) -> dict:
    po, pov, ps, pd = (shop.t(n) for n in ("product_option", "product_option_value", "product_special",
                                           "product_discount"))
    with shop.engine.connect() as conn:
        return {
            "options": [(r.option_id, r.product_option_id) for r in conn.execute(
                sa.select(po).where(po.c.product_id == product_id))],
            "values": sorted((r.option_value_id, r.product_option_value_id, str(r.price), r.price_prefix, r.quantity)
                             for r in conn.execute(sa.select(pov).where(pov.c.product_id == product_id))),
            "specials": [(r.customer_group_id, str(r.price), str(r.date_start)) for r in conn.execute(
                sa.select(ps).where(ps.c.product_id == product_id))],
            "discounts": [(r.customer_group_id, r.quantity, str(r.price)) for r in conn.execute(
                sa.select(pd).where(pd.c.product_id == product_id))]}


def option_names(shop) -> dict:
    od, ovd = shop.t("option_description"), shop.t("option_value_description")
    with shop.engine.connect() as conn:
        opts = {}
        for r in conn.execute(sa.select(od)):
            opts.setdefault(r.option_id, {})[r.language_id] = r.name
        values = {}
        for r in conn.execute(sa.select(ovd)):
            values.setdefault(r.option_value_id, {})[r.language_id] = r.name
    return {"options": opts, "values": values}


SIZE = {"code": "OB-SIZE", "namelang": {"en": "Size", "ru": "Размер"}, "values": [
    {"code": "OB-S", "namelang": {"en": "Small"}, "price": "0", "stock": 3},
    {"code": "OB-L", "namelang": {"en": "Large", "ru": "Большой"}, "price": "-2.50", "stock": 1}]}


def test_options_specials_and_discounts_set_in_onebox_reach_the_shop_once(shop, sim, integration, kit):
    integration.settings = {**integration.settings, "flows": {"product": "both"}, "group_map": {"1": 55}}
    integration.save()
    start(integration, kit)
    sim.edit("product", "articul", "SKU-1", options=[SIZE],
             specials=[{"groupid": 55, "price": "8.00", "priority": 1, "from": "2026-12-01", "to": "2026-12-31"}],
             discounts=[{"groupid": 0, "quantity": 10, "price": "7.00", "priority": 1, "from": "", "to": ""}])
    sets = sim.calls()["product/set"]
    kit.poll(integration)
    option, small, large = (int(Binding.objects.get(kind=k, external_id=c).local_id)
                            for k, c in ((m.OPTION, "OB-SIZE"), (m.OPTION_VALUE, "OB-S"), (m.OPTION_VALUE, "OB-L")))
    names = option_names(shop)
    assert names["options"][option] == {1: "Size", 2: "Size", 3: "Размер"}  # every language has a row
    assert names["values"][large] == {1: "Large", 2: "Large", 3: "Большой"} and names["values"][small][3] == "Small"
    rows = product_rows(shop, 1)
    assert [o for o, _id in rows["options"]] == [option]
    # the shop keeps the stock (its own source): OneBox's option quantities are not taken
    assert [(v, p, s, q) for v, _id, p, s, q in rows["values"]] == [(small, "0.0000", "+", 0), (large, "2.5000", "-", 0)]
    assert rows["specials"] == [(1, "8.0000", "2026-12-01")] and rows["discounts"] == [(1, 10, "7.0000")]
    for _ in range(2):  # our own write read back: nothing sent to OneBox, nothing written twice
        kit.run(jobs.SyncCatalog, integration)
        kit.poll(integration)
    assert sim.calls()["product/set"] == sets
    assert ShopWrite.objects.filter(kind="option").count() == 1 and product_rows(shop, 1) == rows
    sim.edit("product", "articul", "SKU-1", options=[{**SIZE, "values": [
        SIZE["values"][0], {**SIZE["values"][1], "namelang": {"en": "Large", "ru": "Крупный"}}]}])
    kit.poll(integration)
    assert option_names(shop)["values"][large][3] == "Крупный"
    assert product_rows(shop, 1)["values"] == rows["values"]  # the same rows under the same ids
    kit.run(jobs.SyncCatalog, integration)
    assert sim.calls()["product/set"] == sets and ShopWrite.objects.filter(kind="option").count() == 2
    with shop.engine.begin() as conn:  # the shop changes its price: the product goes out under OneBox's codes
        conn.execute(sa.update(shop.t("product")).where(shop.t("product").c.product_id == 1).values(price=11))
    kit.run(jobs.SyncCatalog, integration)
    sent = next(r for r in sim.records("product") if r["articul"] == "SKU-1")
    assert [o["code"] for o in sent["options"]] == ["OB-SIZE"]
    assert [v["code"] for v in sent["options"][0]["values"]] == ["OB-S", "OB-L"]


def test_a_onebox_contact_group_not_in_the_map_is_listed_and_taken_once_mapped(shop, sim, integration, kit):
    integration.settings = {**integration.settings, "flows": {"product": "both"}}
    integration.save()
    start(integration, kit)
    sim.edit("product", "articul", "SKU-2", price="9.00",
             specials=[{"groupid": 77, "price": "6.00", "priority": 1, "from": "", "to": ""}])
    kit.poll(integration)
    [failed] = Binding.objects.filter(kind=m.PRODUCT, data__state=m.FAILED)
    assert failed.local_id == "2" and "contact group 77" in failed.data["error"]
    assert product_rows(shop, 2)["specials"] == []
    integration.settings = {**integration.settings, "group_map": {"2": 77}}
    integration.save()
    jobs.retry(integration, m.PRODUCT, "2")
    run_until_idle()
    assert product_rows(shop, 2)["specials"] == [(2, "6.0000", "0000-00-00")]  # no start: the form's empty date
    assert Binding.objects.get(kind=m.PRODUCT, local_id="2").data["state"] == m.OK


def test_a_worker_killed_mid_write_leaves_one_clean_brand_and_one_clean_option(shop, sim, integration, kit):
    from ocbridge.opencart import writes

    integration.settings = {**integration.settings, "flows": {"category": "both", "brand": "both", "product": "both"}}
    integration.save()
    start(integration, kit)
    made = sim.add("brand", code="B-K", name="Kilo")
    with killed_at(writes, "manufacturer", "after"):
        kit.poll(integration)
    handed_out_again(catalogue_in.CatalogueIn)
    assert [n for n in manufacturers(shop).values()].count("Kilo") == 1
    assert bound(m.BRAND, made["id"]).data["state"] == m.OK
    sim.edit("product", "articul", "SKU-1", options=[SIZE])
    with killed_at(writes, "values", "before"):  # the option's row and names are there, its values not yet
        kit.poll(integration)
    handed_out_again(jobs.ProductIn)
    kit.poll(integration)
    names = option_names(shop)
    assert [n[1] for n in names["options"].values()] == ["Size"]  # one option, not two
    assert sorted(n[1] for n in names["values"].values()) == ["Large", "Small"]
    assert len(product_rows(shop, 1)["values"]) == 2
    assert set(ShopWrite.objects.filter(kind__in=["option", "manufacturer", "product"]).values_list("state", flat=True)) == {"done"}
