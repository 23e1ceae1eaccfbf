"""Contacts and contact groups from OneBox into MariaDB 3.0 and 4.0 shops, end to end through the simulator over
HTTP (contact/get, contactgroup/get: docs/providers/onebox.md §4): a new contact → one customer in its group;
a crash mid-write then the retry → one customer; our own writes read back are echoes, not sent back; a conflict
decided by the owner's rule and logged; no e-mail or a duplicate e-mail → listed with the reason, and Retry."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from integrations.onebox.crashes import handed_out_again, killed_at
from ocbridge.core.jobs import run_until_idle
from ocbridge.core.models import Binding
from ocbridge.integrations.onebox import contacts_in as contacts_in_module, jobs, models as m
from ocbridge.opencart import writes
from ocbridge.opencart.models import ShopWrite
from ocbridge.opencart.reference import complete_row

pytestmark = pytest.mark.django_db
AYSE = {"name": "Ayşe", "namelast": "Yılmaz", "email": "Ayse@Example.com", "phone": "+905321234567"}


@pytest.fixture
def contacts_in(integration, kit):
    integration.settings = {**integration.settings, "flows": {"contact": "both", "contact_group": "in"}}
    integration.save()
    kit.poll_onebox(integration)  # OneBox's first read starts its window
    return integration


def customers(shop) -> list[dict]:
    c = shop.t("customer")
    with shop.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(c).order_by(c.c.customer_id))]


def group_names(shop, group_id: int) -> dict[int, str]:
    gd = shop.t("customer_group_description")
    with shop.engine.connect() as conn:
        return dict(conn.execute(sa.select(gd.c.language_id, gd.c.name).where(gd.c.customer_group_id == group_id)).all())


def add_customer(shop, cid: int, email: str, **fields) -> None:
    with shop.engine.begin() as conn:
        conn.execute(sa.insert(shop.t("customer")), [complete_row(shop.t("customer"), {
            "customer_id": cid, "customer_group_id": 1, "store_id": 0, "firstname": "Old", "lastname": "Name",
            "email": email, "telephone": "02120000000", "status": 1, "date_added": "2024-01-01 00:00:00",
            **fields})])


def test_new_contact_becomes_one_customer_in_its_group_and_nothing_is_echoed(shop, sim, contacts_in, kit):
    group = sim.add("contactgroup", name="Wholesale", namelang={"ru": "Опт"})
    contact = sim.add("contact", **AYSE, groupid=group["id"])
    kit.poll(contacts_in)
    [row] = customers(shop)
    gid = int(Binding.objects.get(kind=m.CONTACT_GROUP, external_id=str(group["id"])).local_id)
    assert (row["firstname"], row["lastname"], row["email"], row["telephone"]) == (
        "Ayşe", "Yılmaz", "Ayse@Example.com", "+905321234567")
    assert row["customer_group_id"] == gid and row["password"] == "" and row["status"] == 1
    assert group_names(shop, gid) == {1: "Wholesale", 2: "Wholesale", 3: "Опт"}
    b = Binding.objects.get(kind=m.CONTACT, external_id=str(contact["id"]))
    assert (b.local_id, b.data["state"], b.last_origin) == (f"oc-c{row['customer_id']}", m.OK, "remote")
    writes_before = ShopWrite.objects.count()
    kit.poll(contacts_in)  # nothing changed: no job, no write
    jobs.start_load(contacts_in, "contact")  # the customers' load: the contact is OneBox's already
    run_until_idle()
    kit.poll(contacts_in)
    assert ShopWrite.objects.count() == writes_before and len(customers(shop)) == 1
    assert "contact/set" not in sim.calls()  # our write was not sent back
    sim.edit("contactgroup", "id", group["id"], name="Wholesale EU", namelang={})
    sim.edit("contact", "id", contact["id"], namelast="Kaya")
    kit.poll(contacts_in)
    assert customers(shop)[0]["lastname"] == "Kaya" and group_names(shop, gid)[1] == "Wholesale EU"
    assert len(customers(shop)) == 1 and "contact/set" not in sim.calls()
    from django.contrib.auth.models import User
    from django.test import Client

    web = Client()
    web.force_login(User.objects.create_user("owner", password="x", is_superuser=True))
    page = web.get(f"/onebox/{contacts_in.pk}/").content.decode()
    assert f"<td>{gid} Wholesale EU</td><td>{group['id']} </td><td>made from OneBox's group</td>" in page


def test_a_crash_mid_write_then_the_retry_makes_one_customer(shop, sim, contacts_in, kit):
    sim.add("contact", **AYSE)
    kit.poll_shop(contacts_in)
    kit.poll_onebox(contacts_in)
    with killed_at(writes, "customer", "after"):  # MyISAM (3.0) keeps the row, InnoDB (4.0) rolls it back
        run_until_idle()
    handed_out_again(contacts_in_module.ContactIn)
    [row] = customers(shop)
    assert row["email"] == "Ayse@Example.com"
    assert list(ShopWrite.objects.filter(kind="customer").values_list("state", flat=True)) == ["done"]
    assert Binding.objects.get(kind=m.CONTACT).local_id == f"oc-c{row['customer_id']}"


def test_no_email_and_duplicate_emails_are_listed_with_the_reason_and_retry_takes_them(shop, sim, contacts_in, kit):
    add_customer(shop, 5, "anna@example.com", firstname="Anna", lastname="Lee", telephone="+447700900123")
    matched = sim.add("contact", name="Anna", namelast="Lee", email="ANNA@example.com", phone="+447700900123")
    twin = sim.add("contact", name="Anna", namelast="Smith", email="anna@example.com")
    phone_only = sim.add("contact", name="Ivan", phone="+79161234567")
    kit.poll(contacts_in)
    assert [c["customer_id"] for c in customers(shop)] == [5]  # matched by e-mail, not duplicated
    assert Binding.objects.get(kind=m.CONTACT, external_id=str(matched["id"])).local_id == "oc-c5"
    failed = {b.external_id: b.data["error"] for b in Binding.objects.filter(kind=m.CONTACT, data__state=m.FAILED)}
    assert "No e-mail address" in failed[str(phone_only["id"])]
    assert f"as OneBox contact {matched['id']}, which is customer 5" in failed[str(twin["id"])]
    writes_before = ShopWrite.objects.count()
    kit.poll(contacts_in)  # unchanged in OneBox: not tried again
    assert ShopWrite.objects.count() == writes_before
    sim.edit("contact", "id", phone_only["id"], email="ivan@example.com")  # fixed in OneBox: taken at once
    kit.poll(contacts_in)
    c = shop.t("customer")
    with shop.engine.begin() as conn:  # the owner decides they are two people: customer 5 gets another address
        conn.execute(sa.update(c).where(c.c.customer_id == 5).values(email="anna.lee@example.com"))
    jobs.retry(contacts_in, m.CONTACT, f"onebox:{twin['id']}")  # the owner's Retry reads it again
    run_until_idle()
    assert sorted(c["email"] for c in customers(shop)) == ["anna.lee@example.com", "anna@example.com",
                                                           "ivan@example.com"]
    assert not Binding.objects.filter(kind=m.CONTACT, data__state=m.FAILED).exists()


@pytest.mark.parametrize("rule, shop_after, onebox_after", [
    ("shop", "Shop", "Shop"), ("service", "Box", "Box")])
def test_both_sides_changed_a_customer_the_rule_decides_and_it_is_logged(shop, sim, contacts_in, kit, rule,
                                                                         shop_after, onebox_after):
    contacts_in.settings = {**contacts_in.settings, "conflict_rules": {"contact": rule}}
    contacts_in.save()
    contact = sim.add("contact", **AYSE)
    kit.poll(contacts_in)
    [row] = customers(shop)
    c = shop.t("customer")
    with shop.engine.begin() as conn:
        conn.execute(sa.update(c).where(c.c.customer_id == row["customer_id"]).values(lastname="Shop"))
    sim.edit("contact", "id", contact["id"], namelast="Box")
    kit.poll(contacts_in)
    assert customers(shop)[0]["lastname"] == shop_after
    assert next(r for r in sim.records("contact") if r["id"] == contact["id"])["namelast"] == onebox_after
    [conflict] = m.Conflict.objects.filter(kind="contact")
    assert (conflict.local_id, conflict.rule) == (f"oc-c{row['customer_id']}", rule)
    assert conflict.winner == ("remote" if rule == "shop" else "local")
    sets = sim.calls().get("contact/set", 0)
    kit.poll(contacts_in)  # the winner's write read back is an echo
    assert sim.calls().get("contact/set", 0) == sets and m.Conflict.objects.count() == 1


def test_a_group_the_owner_paired_keeps_its_name_and_takes_its_contacts(shop, sim, contacts_in, kit):
    with shop.engine.begin() as conn:
        conn.execute(sa.insert(shop.t("customer_group")).values(customer_group_id=2, approval=0, sort_order=2))
        conn.execute(sa.insert(shop.t("customer_group_description")), [
            {"customer_group_id": 2, "language_id": lid, "name": "VIP", "description": ""} for lid in (1, 2, 3)])
    group = sim.add("contactgroup", name="Key accounts")
    contacts_in.settings = {**contacts_in.settings, "group_map": {"2": group["id"]}}
    contacts_in.save()
    sim.add("contact", **AYSE, groupid=group["id"])
    kit.poll(contacts_in)
    assert customers(shop)[0]["customer_group_id"] == 2 and group_names(shop, 2)[1] == "VIP"
    assert not Binding.objects.filter(kind=m.CONTACT_GROUP).exists()


def test_contacts_onebox_had_before_are_loaded_once_resuming_after_a_crash(shop, sim, contacts_in, kit):
    """The contacts already in OneBox when the owner starts taking them (they are older than the poll's window):
    the load pages through contact/get by offset, groups first; killed mid-step, it continues, nothing twice."""
    contacts_in.settings = {**contacts_in.settings, "history_batch": 2}
    contacts_in.save()
    group = sim.add("contactgroup", name="Retail")
    for n in range(5):
        sim.add("contact", name=f"C{n}", namelast="Lee", email=f"c{n}@example.com", groupid=group["id"])
    sim.add("contact", name="No mail", phone="+79161234567")

    with killed_at(jobs, "load", sim.records("contact")[2]["id"]):
        jobs.start_load(contacts_in, "contact_in")
        run_until_idle()
    assert jobs.progress(contacts_in, "contact_in")["after"] == 2
    handed_out_again(jobs.LoadStep)
    rows = customers(shop)
    assert sorted(r["email"] for r in rows) == [f"c{n}@example.com" for n in range(5)]
    assert len({r["customer_group_id"] for r in rows}) == 1 and rows[0]["customer_group_id"] != 1
    assert ShopWrite.objects.filter(kind="customer").count() == 5  # the repeated step wrote nothing twice
    p = jobs.progress(contacts_in, "contact_in")
    assert p["finished"] and (p["done"], p["total"]) == (6, 6)
    assert Binding.objects.filter(kind=m.CONTACT, data__state=m.FAILED).count() == 1  # the one without e-mail


def test_a_customer_onebox_refused_is_sent_again_by_retry(shop, sim, integration, kit):
    add_customer(shop, 8, "lee@example.com", firstname="Lee")
    sim.refuse_next("contact", "phone: wrong format", count=2)  # the batch, then the record alone
    jobs.start_load(integration, "contact")
    run_until_idle()
    b = Binding.objects.get(kind=m.CONTACT, local_id="oc-c8")
    assert (b.data["state"], b.data["error"]) == (m.FAILED, "phone: wrong format") and not sim.records("contact")
    jobs.retry(integration, m.CONTACT, "oc-c8")
    run_until_idle()
    [contact] = sim.records("contact")
    b.refresh_from_db()
    assert (contact["externalid"], b.external_id, b.data["state"]) == ("oc-c8", str(contact["id"]), m.OK)


def test_a_contact_deleted_in_onebox_before_the_owners_retry_is_listed_as_deleted(shop, sim, contacts_in, kit):
    gone = sim.add("contact", name="Ivan", phone="+79161234567")  # no e-mail: listed
    kit.poll(contacts_in)
    b = Binding.objects.get(kind=m.CONTACT, external_id=str(gone["id"]))
    assert b.data["reason"] == "no_email"
    sim.delete("contact", "id", gone["id"])
    jobs.retry(contacts_in, m.CONTACT, b.local_id)
    run_until_idle()
    b.refresh_from_db()
    assert (b.data["state"], b.data["reason"], b.data["params"]) == (m.DELETED, "deleted_in_onebox",
                                                                    {"id": str(gone["id"])})
    assert customers(shop) == [] and not Binding.objects.filter(kind=m.CONTACT, data__state=m.FAILED).exists()
