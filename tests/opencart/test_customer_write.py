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
