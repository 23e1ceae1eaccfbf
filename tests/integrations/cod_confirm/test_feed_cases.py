"""COD confirmation on the shared order feed: switched off and on, the admin deciding first, late Pending."""

import pytest
import sqlalchemy as sa

from ocbridge.core.models import Integration
from ocbridge.integrations.cod_confirm.models import Confirmation
from opencart.opencart_helpers import add_order, set_status

pytestmark = pytest.mark.django_db(transaction=True)
PHONE = "0532 123 45 67"


def admin_history(bed, order_id, status):
    """What OpenCart's admin does: a history row and the new status (the model's addOrderHistory)."""
    with bed.shop.engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO oc_order_history (order_id, order_status_id, notify, comment, date_added) "
                             "VALUES (:o, :s, 0, '', NOW())"), {"o": order_id, "s": status})
    set_status(bed.shop, order_id, status)


def next_slot():
    from ocbridge.core import clock

    clock.travel(16)  # polls are one job per 15-second slot


def test_order_placed_while_switched_off_goes_to_needs_you_never_called_late(cod_bed):
    bed = cod_bed("3.0")
    bed.sim.set_customer("+905321234567", call="confirm")
    Integration.objects.filter(pk=bed.integration.pk).update(enabled=False)
    bed.run()
    next_slot()
    add_order(bed.shop, 2001, telephone=PHONE)
    add_order(bed.shop, 2000, telephone=PHONE)
    with bed.shop.engine.begin() as conn:  # 2001 placed just now; 2000 keeps its date of long ago
        conn.execute(sa.text("UPDATE oc_order SET date_added = NOW() WHERE order_id = 2001"))
    bed.run()
    assert not Confirmation.objects.exists()
    Integration.objects.filter(pk=bed.integration.pk).update(enabled=True)
    next_slot()
    bed.run()
    c = Confirmation.objects.get(order_id=2001)
    assert c.state == "needs_person" and "switched off" in c.needs_person_reason
    assert bed.sim.calls() == [] and bed.order_status(2001) == 1
    assert not Confirmation.objects.filter(order_id=2000).exists()  # older than 24 h: left to the shop


def test_admin_decision_closes_an_open_case_within_one_poll(cod_bed):
    bed = cod_bed("4.0", channel_policy="call")
    bed.sim.set_customer("+905321234567", call="no_answer")
    add_order(bed.shop, 2002, telephone=PHONE)
    bed.run()
    assert Confirmation.objects.get(order_id=2002).state in ("no_answer", "scheduled", "calling")
    admin_history(bed, 2002, 5)  # the owner completed it in the admin
    from ocbridge.opencart import feed

    feed.poll_shop(feed.shop_key(bed.store))  # one poll
    c = Confirmation.objects.get(order_id=2002)
    assert c.state == "resolved_in_shop" and c.decided_by == "shop"


def test_late_pending_after_status_zero_is_called(cod_bed):
    """A checkout left at status 0 reaches Pending later (a payment callback): the history feed brings it."""
    from ocbridge.core import clock

    bed = cod_bed("3.0")
    bed.sim.set_customer("+905321234567", call="confirm")
    add_order(bed.shop, 2003, status=0, telephone=PHONE)
    bed.run()
    clock.travel(25 * 3600)  # beyond the 24 h the poll follows status-0 orders by primary key
    bed.run()
    admin_history(bed, 2003, 1)
    next_slot()
    bed.run()
    assert Confirmation.objects.get(order_id=2003).state == "confirmed" and bed.order_status(2003) == 2


def shop_statements_in_hub_transactions():
    """Collects every statement sent to a shop (SQLAlchemy: the hub itself is Django's) while this thread's hub
    connection is inside a transaction — on SQLite, while it holds the hub's write lock."""
    from django.db import connection

    inside: list[str] = []

    def capture(conn, cursor, statement, *args):
        if connection.in_atomic_block:
            inside.append(statement)

    return inside, capture


def test_the_feed_handover_reads_nothing_from_the_shop_inside_the_hub_transaction(cod_bed):
    """The handover of new orders and history rows to COD confirmation runs in one hub transaction (on SQLite the
    hub's write lock, every other writer waiting): the customer's completed orders (the owner skips repeat
    customers) and the orders the history shows reaching Pending late are read before it, not inside it."""
    from ocbridge.core import clock
    from ocbridge.opencart import feed, shop_db, statuses

    bed = cod_bed("3.0", skip_after_completed_orders=2)
    complete = min(statuses.read_settings(shop_db(bed.store), 0).complete)
    for oid in (2100, 2101):  # the repeat customer's earlier orders, completed
        add_order(bed.shop, oid, status=complete, customer_id=77, email="repeat@example.com", telephone=PHONE)
    key = feed.shop_key(bed.store)
    feed.poll_shop(key)
    add_order(bed.shop, 2102, customer_id=77, email="repeat@example.com", telephone=PHONE)  # a repeat customer: skipped
    add_order(bed.shop, 2103, customer_id=78, email="new@example.com", telephone=PHONE)  # a new one: called
    add_order(bed.shop, 2104, status=0, customer_id=79, email="late@example.com", telephone=PHONE)  # checkout unfinished
    inside, capture = shop_statements_in_hub_transactions()
    sa.event.listen(sa.engine.Engine, "before_cursor_execute", capture)
    try:
        feed.poll_shop(key)
        clock.travel(25 * 3600)  # beyond the 24 h the poll follows status-0 orders by primary key
        feed.poll_shop(key)
        admin_history(bed, 2104, 1)  # it reaches Pending late: found by the history feed
        next_slot()
        feed.poll_shop(key)
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", capture)
    states = dict(Confirmation.objects.values_list("order_id", "state"))
    assert states[2102] == "skipped" and states[2103] == "scheduled" and states[2104] == "scheduled"
    assert inside == []
