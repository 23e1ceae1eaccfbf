"""The journaled customer write (opencart.writes.upsert_customer) on the MariaDB testbed, per OpenCart layout:
the row admin/model/customer/customer.php addCustomer/editCustomer (3.0.3.9, 4.0.2.3) saves, with no password."""

import pytest
import sqlalchemy as sa

from ocbridge.core.errors import TerminalError
from ocbridge.opencart import writes
from ocbridge.opencart.models import ShopWrite

from opencart.writes_helpers import Crash, crash_at, make_store  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db
PERSON = {"firstname": "Ayşe & Co", "lastname": "Yılmaz", "email": "ayse@example.com", "telephone": "+905321234567"}


def customers(h):
    c = h.t("customer")
    with h.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(c).order_by(c.c.customer_id))]


def add_group(h, group_id):
    with h.engine.begin() as conn:
        conn.execute(sa.insert(h.t("customer_group")).values(customer_group_id=group_id, approval=0, sort_order=2))


@pytest.mark.parametrize("version", ["3.0", "4.0"])
def test_customer_is_created_once_without_a_password_and_updated(opencart_db, crash_at, version):
    h = opencart_db(version)
    store = make_store(h)
    crash_at("customer", "after")  # killed after the INSERT: MyISAM keeps the row, InnoDB rolls it back
    with pytest.raises(Crash):
        writes.upsert_customer(store, PERSON, customer_group_id=1, key="c")
    made = writes.upsert_customer(store, PERSON, customer_group_id=1, key="c")
    assert writes.upsert_customer(store, PERSON, customer_group_id=1, key="c").repeated
    [row] = customers(h)
    assert row["customer_id"] == made.customer_id and made.created
    assert (row["firstname"], row["email"], row["customer_group_id"]) == ("Ayşe &amp; Co", "ayse@example.com", 1)
    assert row["password"] == "" and row["status"] == 1 and row["custom_field"] == "[]"
    add_group(h, 2)
    upd = writes.upsert_customer(store, {**PERSON, "lastname": "Kaya"}, customer_group_id=2, key="c2",
                                 customer_id=made.customer_id)
    assert not upd.created
    [row] = customers(h)
    assert (row["lastname"], row["customer_group_id"], row["password"]) == ("Kaya", 2, "")


@pytest.mark.parametrize("bad,group,why", [
    ({"email": "not-an-email"}, 1, "not valid"),
    ({"firstname": ""}, 1, "no first name"),
    ({}, 99, "group 99 does not exist"),
])
def test_a_customer_the_admin_form_refuses_is_refused_and_nothing_written(opencart_db, bad, group, why):
    h = opencart_db("3.0")
    store = make_store(h)
    with pytest.raises(TerminalError, match=why):
        writes.upsert_customer(store, {**PERSON, **bad}, customer_group_id=group, key="bad")
    assert customers(h) == [] and ShopWrite.objects.get(key="bad").state == "failed"


def test_a_second_customer_with_the_same_email_is_refused(opencart_db):
    h = opencart_db("4.0")
    store = make_store(h)
    writes.upsert_customer(store, PERSON, customer_group_id=1, key="one")
    with pytest.raises(TerminalError, match="exists already"):
        writes.upsert_customer(store, {**PERSON, "email": "AYSE@example.com"}, customer_group_id=1, key="two")
    assert len(customers(h)) == 1


def groups(h):
    g, gd = h.t("customer_group"), h.t("customer_group_description")
    with h.engine.connect() as conn:
        return ([tuple(r) for r in conn.execute(sa.select(g).order_by(g.c.customer_group_id))],
                [tuple(r) for r in conn.execute(sa.select(gd.c.customer_group_id, gd.c.language_id, gd.c.name,
                                                          gd.c.description).order_by(gd.c.customer_group_id,
                                                                                     gd.c.language_id))])


@pytest.mark.parametrize("version", ["3.0", "4.0"])
def test_customer_group_is_created_once_in_every_language_and_renamed(opencart_db, crash_at, version):
    """admin/model/customer/customer_group.php addCustomerGroup/editCustomerGroup (3.0.3.9, 4.0.2.3): the row, then
    one description per language; a crash after the row (MyISAM keeps it, InnoDB rolls it back) and the retry make
    one group with its names."""
    h = opencart_db(version)
    store = make_store(h)
    crash_at("customer_group", "after")
    with pytest.raises(Crash):
        writes.upsert_customer_group(store, {1: "Wholesale", 3: "Опт & Co"}, key="g")
    made = writes.upsert_customer_group(store, {1: "Wholesale", 3: "Опт & Co"}, key="g")
    assert made.created and writes.upsert_customer_group(store, {1: "x"}, key="g").repeated
    rows, names = groups(h)
    assert rows == [(1, 0, 1), (made.customer_group_id, 0, 2)]  # no approval, sorted last
    gid = made.customer_group_id
    # 2 (Turkish, the store's language) has no name of its own: the store language's is missing too → the first
    assert [n for n in names if n[0] == gid] == [(gid, 1, "Wholesale", ""), (gid, 2, "Wholesale", ""),
                                                 (gid, 3, "Опт &amp; Co", "")]
    with h.engine.begin() as conn:  # the owner gave it a description and an approval in the admin
        conn.execute(sa.update(h.t("customer_group_description")).where(
            h.t("customer_group_description").c.customer_group_id == gid).values(description="B2B"))
        conn.execute(sa.update(h.t("customer_group")).where(h.t("customer_group").c.customer_group_id == gid)
                     .values(approval=1))
    renamed = writes.upsert_customer_group(store, {1: "Wholesale EU", 2: "Toptan"}, key="g2", customer_group_id=gid)
    assert not renamed.created and renamed.customer_group_id == gid
    rows, names = groups(h)
    assert rows == [(1, 0, 1), (gid, 1, 2)]
    assert [n for n in names if n[0] == gid] == [(gid, 1, "Wholesale EU", "B2B"), (gid, 2, "Toptan", "B2B"),
                                                 (gid, 3, "Toptan", "B2B")]


@pytest.mark.parametrize("names,group_id,why", [
    ({1: "ab"}, None, "3 to 32 characters"),
    ({1: "x" * 33}, None, "3 to 32 characters"),
    ({1: " "}, None, "no name"),
    ({1: "Retail"}, 99, "group 99 does not exist"),
])
def test_a_customer_group_the_admin_form_refuses_is_refused_and_nothing_written(opencart_db, names, group_id, why):
    h = opencart_db("3.0")
    store = make_store(h)
    before = groups(h)
    with pytest.raises(TerminalError, match=why):
        writes.upsert_customer_group(store, names, key="bad", customer_group_id=group_id)
    assert groups(h) == before and ShopWrite.objects.get(key="bad").state == "failed"
