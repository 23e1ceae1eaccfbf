"""Brands and categories both sides had before the sync was switched on, on MariaDB 3.0 and 4.0 shops ↔ jobs ↔
the OneBox simulator over HTTP: matched by name (case-insensitively in any script, a category under the same parent)
and linked, never created a second time on either side; several of one name → listed with the reason and a Retry;
a record deleted in OneBox found by Retry → said so, and no longer synced.

OneBox keeps names as given and only `code` is unique (https://1b.app/en/api/category/, https://1b.app/en/api/brand/:
"If a category with this id exists, the API will throw an error" — of `code`, never of `name`) [DOC]; lists are
read with `<entity>/get` by `limit`/`offset` (docs/providers/onebox.md §4)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from django.contrib.auth.models import User
from django.test import Client

from ocbridge.core.attention import needs_attention
from ocbridge.core.jobs import run_until_idle
from ocbridge.core.models import Binding
from ocbridge.integrations.onebox import jobs, matching, models as m
from ocbridge.opencart.models import ShopWrite
from ocbridge.opencart.reference import complete_row

from integrations.onebox.test_catalogue_in import bound, categories, manufacturers

pytestmark = pytest.mark.django_db


def flows(integration, **kinds) -> None:
    integration.settings = {**integration.settings, "flows": kinds}
    integration.save()


def name_category(shop, category_id: int, language_id: int, name: str) -> None:
    cd = shop.t("category_description")
    with shop.engine.begin() as conn:
        conn.execute(sa.update(cd).where(cd.c.category_id == category_id, cd.c.language_id == language_id)
                     .values(name=name))


def add_manufacturer(shop, manufacturer_id: int, name: str) -> None:
    with shop.engine.begin() as conn:
        conn.execute(sa.insert(shop.t("manufacturer")), [complete_row(shop.t("manufacturer"), {
            "manufacturer_id": manufacturer_id, "name": name})])


def page(integration, language: str = "en") -> str:
    web = Client()
    web.force_login(User.objects.get_or_create(username="owner", defaults={"is_superuser": True})[0])
    return web.get(f"/onebox/{integration.pk}/", HTTP_ACCEPT_LANGUAGE=language).content.decode()


@pytest.mark.parametrize("text, same", [
    ("İSTANBUL", "istanbul"), ("ISPARTA", "ısparta"), ("Işık", "IŞIK"), ("ПОСУДА", "посуда"), ("Ёлка", "ёЛКА"),
    ("Acme &amp; Co", "ACME & co"), ("  Acme\u00a0 Co ", "acme co"), ("Stra\u00dfe", "STRASSE")])
def test_names_are_compared_as_people_read_them(text, same):
    assert matching.name_key(text) == matching.name_key(same)


@pytest.mark.parametrize("text, other", [("Ёлка", "Елка"), ("Çay", "Cay"), ("Мир", "Mир"), ("Acme", "Acme 2")])
def test_different_names_stay_different(text, other):
    assert matching.name_key(text) != matching.name_key(other)


def test_a_brand_onebox_had_is_linked_not_sent_again_and_the_brand_load_brings_no_second_manufacturer(
        shop, sim, integration, kit):
    flows(integration, brand="both")
    theirs = sim.add("brand", code="B-ACME", name="ACME")  # made in OneBox before the switch-on
    kit.run(jobs.SyncCatalog, integration)
    assert [b["id"] for b in sim.records("brand")] == [theirs["id"]]  # not a second "Acme" in OneBox
    b = bound(m.BRAND, theirs["id"])
    assert (b.local_id, b.data["code"], b.data["state"]) == ("7", "B-ACME", m.OK)
    jobs.start_load(integration, "brand_in")  # "Brands from OneBox"
    run_until_idle()
    kit.poll(integration)
    assert manufacturers(shop) == {7: "Acme"} and not ShopWrite.objects.exists()  # linked: nothing written
    assert "brand/set" not in sim.calls()
    t = shop.t("manufacturer")
    with shop.engine.begin() as conn:  # later changes flow as any other, to OneBox's own record
        conn.execute(sa.update(t).where(t.c.manufacturer_id == 7).values(name="Acme Ltd"))
    kit.run(jobs.SyncCatalog, integration)
    [brand] = sim.records("brand")
    assert (brand["id"], brand["name"], brand["code"]) == (theirs["id"], "Acme Ltd", "B-ACME")


def test_categories_filled_on_both_sides_are_linked_under_the_same_parent_in_any_script(shop, sim, integration, kit):
    flows(integration, category="both")
    name_category(shop, 10, 3, "Посуда")
    name_category(shop, 20, 2, "içecekler")
    top = sim.add("category", code="K-P", name="ПОСУДА")
    drinks = sim.add("category", code="K-D", name="İÇECEKLER", parentcode="K-P")
    elsewhere = sim.add("category", code="K-X", name="İÇECEKLER")  # the same name at the top: another category
    kit.run(jobs.SyncCatalog, integration)
    assert "category/set" not in sim.calls() and len(sim.records("category")) == 3
    assert (bound(m.CATEGORY, top["id"]).local_id, bound(m.CATEGORY, drinks["id"]).local_id) == ("10", "20")
    jobs.start_load(integration, "category_in")
    run_until_idle()
    cats = categories(shop)
    new = int(bound(m.CATEGORY, elsewhere["id"]).local_id)
    assert sorted(cats) == [10, 20, new] and cats[new]["parent"] == 0  # only the one the shop lacked came in
    assert [w.kind for w in ShopWrite.objects.all()] == ["category"]
    kit.run(jobs.SyncCatalog, integration)
    assert "category/set" not in sim.calls()  # what is linked or came in is not sent back


def test_a_load_before_the_first_sync_links_the_shops_own_records(shop, sim, integration):
    flows(integration, category="in", brand="in")
    sim.add("category", code="K-10", name="cat10-EN")
    sim.add("category", code="K-20", name="CAT20-en", parentcode="K-10")
    acme = sim.add("brand", code="B-A", name="acme")
    for kind in ("category_in", "brand_in"):
        jobs.start_load(integration, kind)
    run_until_idle()
    assert sorted(categories(shop)) == [10, 20] and manufacturers(shop) == {7: "Acme"}
    assert not ShopWrite.objects.exists() and bound(m.BRAND, acme["id"]).local_id == "7"
    assert Binding.objects.get(kind=m.CATEGORY, local_id="20").data["code"] == "K-20"


def test_several_of_one_name_are_listed_with_the_reason_and_retry_links_once_the_owner_chose(
        shop, sim, integration, kit):
    flows(integration, brand="both")
    sim.add("brand", code="B-1", name="Acme")
    second = sim.add("brand", code="B-2", name="ACME")
    kit.run(jobs.SyncCatalog, integration)
    b = Binding.objects.get(kind=m.BRAND, local_id="7")
    assert (b.data["state"], b.data["reason"]) == (m.FAILED, "same_name_onebox_brand") and len(sim.records("brand")) == 2
    assert "OneBox has several brands named “Acme”" in page(integration)
    assert "В OneBox несколько брендов с названием «Acme»" in page(integration, "ru")
    kit.run(jobs.SyncCatalog, integration)  # not guessed, not created, until the owner acts
    assert len(sim.records("brand")) == 2 and "brand/set" not in sim.calls()
    sim.edit("brand", "code", "B-2", name="Acme (old)")  # the owner renames one in OneBox
    jobs.retry(integration, m.BRAND, "7")
    run_until_idle()
    b.refresh_from_db()
    assert (b.data["state"], b.data["code"], len(sim.records("brand"))) == (m.OK, "B-1", 2)
    # the shop's side: two manufacturers of the name OneBox has
    add_manufacturer(shop, 8, "Nova")
    add_manufacturer(shop, 9, "NOVA")
    nova = sim.add("brand", code="B-N", name="nova")
    kit.poll_onebox(integration)
    run_until_idle()
    listed = Binding.objects.get(kind=m.BRAND, local_id=f"onebox:{nova['id']}")
    assert listed.data["reason"] == "same_name_shop_brand" and listed.data["params"]["ids"] == "8, 9"
    assert "<button>Retry</button>" in page(integration)
    # the one renamed in OneBox is a brand the shop lacked: it came in
    assert sorted(manufacturers(shop).values()) == ["Acme", "Acme (old)", "NOVA", "Nova"]
    t = shop.t("manufacturer")
    with shop.engine.begin() as conn:
        conn.execute(sa.update(t).where(t.c.manufacturer_id == 9).values(name="Nova Home"))
    jobs.retry(integration, m.BRAND, listed.local_id)
    run_until_idle()
    assert bound(m.BRAND, nova["id"]).local_id == "8" and len(manufacturers(shop)) == 4
    assert not Binding.objects.filter(data__state=m.FAILED).exists()
    assert bound(m.BRAND, second["id"]).local_id not in ("7", "8", "9")


def test_a_record_deleted_in_onebox_is_said_so_on_retry_and_no_longer_synced(shop, sim, integration, kit):
    flows(integration, category="both")
    kit.run(jobs.SyncCatalog, integration)
    kit.poll_onebox(integration)
    made = sim.add("category", code="K-LONG", name="L" * 300)  # over the admin form's 255 characters
    kit.poll(integration)
    listed = Binding.objects.get(kind=m.CATEGORY, local_id=f"onebox:{made['id']}")
    assert listed.data["state"] == m.FAILED
    sim.delete("category", "code", "K-LONG")
    jobs.retry(integration, m.CATEGORY, listed.local_id)
    run_until_idle()
    listed.refresh_from_db()
    assert (listed.data["state"], listed.data["reason"]) == (m.DELETED, "deleted_in_onebox")
    html = page(integration)
    assert f"Deleted in OneBox (OneBox id {made['id']})" in html and "<button>Retry</button>" not in html
    assert f"Удалено в OneBox (id в OneBox {made['id']})" in page(integration, "ru")
    stores = type(integration.store).objects.all()  # not an open failure on the owner's list any more
    assert not [a for a in needs_attention(stores) if a.key == "onebox.failed"]
    assert len(categories(shop)) == 2
    kit.run(jobs.SyncCatalog, integration)
    assert len(sim.records("category")) == 2  # never sent back to OneBox


def test_a_record_deleted_in_onebox_is_dismissed_by_the_stores_operator_and_kept_with_the_audit(shop, sim, integration,
                                                                                                 kit):
    """Dismiss (POST, an operator of the store) takes a deleted record off the open list; its Binding stays deleted
    (never sent again) and the audit says who; a double click dismisses once; a refused record has no Dismiss."""
    from ocbridge.core.models import AuditEntry, StoreMember

    flows(integration, category="both")
    kit.run(jobs.SyncCatalog, integration)
    kit.poll_onebox(integration)
    gone = sim.add("category", code="K-GONE", name="G" * 300)
    kept = sim.add("category", code="K-KEPT", name="K" * 300)
    kit.poll(integration)
    sim.delete("category", "code", "K-GONE")
    jobs.retry(integration, m.CATEGORY, f"onebox:{gone['id']}")
    run_until_idle()
    desk = User.objects.create_user("desk")
    StoreMember.objects.create(store=integration.store, user=desk, role="operator")
    web = Client()
    web.force_login(desk)
    url = f"/onebox/{integration.pk}/dismiss/{m.CATEGORY}/onebox:{gone['id']}/"
    html = web.get(f"/onebox/{integration.pk}/").content.decode()
    assert f'action="{url}"' in html and f"/dismiss/{m.CATEGORY}/onebox:{kept['id']}/" not in html  # refused: Retry
    assert web.get(url).status_code == 405
    looker = User.objects.create_user("looker")
    StoreMember.objects.create(store=integration.store, user=looker, role="viewer")
    viewer = Client()
    viewer.force_login(looker)
    assert viewer.post(url).status_code == 403 and "/dismiss/" not in viewer.get(f"/onebox/{integration.pk}/").content.decode()
    first, second = web.post(url, follow=True).content.decode(), web.post(url, follow=True).content.decode()
    assert "is off the list" in first and "is not a listed record deleted in OneBox" in second
    html = page(integration)
    assert f"OneBox id {gone['id']}" not in html and f"onebox:{kept['id']}" in html
    b = Binding.objects.get(kind=m.CATEGORY, local_id=f"onebox:{gone['id']}")
    assert b.data["state"] == m.DELETED and b.data["dismissed"]
    entry = AuditEntry.objects.get(action="onebox.dismiss")
    assert (entry.user, entry.object_id, entry.store_id) == ("desk", str(b.pk), integration.store_id)
    assert web.post(f"/onebox/{integration.pk}/dismiss/{m.CATEGORY}/onebox:{kept['id']}/").status_code == 302
    assert Binding.objects.get(kind=m.CATEGORY, local_id=f"onebox:{kept['id']}").data["state"] == m.FAILED
    assert AuditEntry.objects.filter(action="onebox.dismiss").count() == 1
    kit.run(jobs.SyncCatalog, integration)
    assert len(sim.records("category")) == 2 + 1  # the dismissed one is not sent back; K-KEPT is still OneBox's


def test_a_product_deleted_in_onebox_is_not_sent_there_again(shop, sim, integration, kit):
    flows(integration, product="both")
    kit.run(jobs.SyncCatalog, integration)
    kit.poll_onebox(integration)
    sim.edit("product", "articul", "SKU-2", specials=[{"groupid": 77, "price": "6.00", "priority": 1, "from": "",
                                                      "to": ""}])  # a contact group the map lacks: refused
    kit.poll(integration)
    assert Binding.objects.get(kind=m.PRODUCT, local_id="2").data["state"] == m.FAILED
    sim.delete("product", "articul", "SKU-2")
    jobs.retry(integration, m.PRODUCT, "2")
    run_until_idle()
    assert Binding.objects.get(kind=m.PRODUCT, local_id="2").data["state"] == m.DELETED
    p = shop.t("product")
    with shop.engine.begin() as conn:  # the shop changes both products: only the one OneBox still has goes out
        conn.execute(sa.update(p).values(price=12))
    kit.run(jobs.SyncCatalog, integration)
    assert [r["articul"] for r in sim.records("product")] == ["SKU-1"]
    assert next(r for r in sim.records("product"))["price"] in (12, "12.00", 12.0, "12")


def test_two_shop_categories_of_one_name_under_one_parent_are_listed_not_guessed(shop, sim, integration):
    import datetime as dt

    flows(integration, category="in")
    t = shop.t
    with shop.engine.begin() as conn:  # a second "Cat20" under category 10, in another case
        conn.execute(sa.insert(t("category")), [complete_row(t("category"), {
            "category_id": 30, "parent_id": 10, "status": 1, "date_added": dt.datetime(2024, 1, 1),
            "date_modified": dt.datetime(2024, 1, 1)})])
        conn.execute(sa.insert(t("category_description")), [complete_row(t("category_description"), {
            "category_id": 30, "language_id": 1, "name": "CAT20-EN", "description": ""})])
    sim.add("category", code="K-10", name="Cat10-en")
    twin = sim.add("category", code="K-20", name="cat20-en", parentcode="K-10")
    sim.add("category", code="K-T", name="Cat20-en")  # at the top: not under 10, not a candidate
    jobs.start_load(integration, "category_in")
    run_until_idle()
    listed = Binding.objects.get(kind=m.CATEGORY, local_id=f"onebox:{twin['id']}")
    assert (listed.data["reason"], listed.data["params"]["ids"]) == ("same_name_shop_category", "20, 30")
    assert "several categories named “cat20-en” under the same parent (20, 30)" in page(integration)
    assert Binding.objects.get(kind=m.CATEGORY, local_id="10").data["code"] == "K-10"
    assert sorted(categories(shop))[:3] == [10, 20, 30] and len(categories(shop)) == 4  # K-T came in as its own


def test_a_box_where_an_earlier_sync_made_a_second_brand_gets_no_second_manufacturer(shop, sim, integration, kit):
    flows(integration, brand="both")
    kit.run(jobs.SyncCatalog, integration)  # OneBox was empty: the shop's Acme went there as oc-brand7
    theirs = sim.add("brand", code="B-ACME", name="ACME")  # as if OneBox had had its own all along
    jobs.start_load(integration, "brand_in")
    run_until_idle()
    assert manufacturers(shop) == {7: "Acme"}  # not a second one from OneBox's duplicate
    listed = Binding.objects.get(kind=m.BRAND, local_id=f"onebox:{theirs['id']}")
    assert (listed.data["state"], listed.data["reason"]) == (m.FAILED, "same_name_onebox_brand")
    ours = Binding.objects.get(kind=m.BRAND, local_id="7").external_id
    assert listed.data["params"]["ids"] == ", ".join(sorted([ours, str(theirs["id"])], key=int))
