"""Shop outcomes (refused/returned, delivered, cancelled in the shop) reach the phone's risk score through the shared
order-history feed — cod_confirm's registered history consumer, no poll of its own — once per order, corrected
when the shop changes its mind; the hub's own writes are not counted again."""

import pytest
import sqlalchemy as sa

from ocbridge.core import clock
from ocbridge.core.registry import history_consumers
from ocbridge.integrations.cod_confirm import risk
from ocbridge.integrations.cod_confirm.models import Confirmation, OrderOutcome
from opencart.opencart_helpers import add_order, set_status

pytestmark = pytest.mark.django_db(transaction=True)
PHONE, E164 = "0532 123 45 67", "+905321234567"
RETURNED, COMPLETE = 12, 5  # OpenCart's default "Reversed"/"Complete"-like ids the owner maps


def shop_history(bed, order_id, status):
    """What OpenCart's admin does: a history row and the new status (the model's addOrderHistory)."""
    with bed.shop.engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO oc_order_history (order_id, order_status_id, notify, comment, date_added) "
                             "VALUES (:o, :s, 0, '', NOW())"), {"o": order_id, "s": status})
    set_status(bed.shop, order_id, status)


def next_poll(bed):
    clock.travel(16)  # polls are one job per 15-second slot
    bed.run()


def test_the_risk_score_is_a_registered_history_consumer_of_the_shared_feed():
    from ocbridge.integrations.cod_confirm.jobs import on_history

    assert history_consumers["cod_confirm"] is on_history


def test_refused_and_delivered_orders_count_once_and_a_change_of_mind_moves_the_count(cod_bed):
    bed = cod_bed("3.0", risk_refused_status_ids=[RETURNED], risk_delivered_status_ids=[COMPLETE])
    bed.sim.set_customer(E164, call="confirm")
    add_order(bed.shop, 5001, telephone=PHONE)
    add_order(bed.shop, 5002, telephone=PHONE)
    bed.run()
    assert set(Confirmation.objects.values_list("state", flat=True)) == {"confirmed"}
    shop_history(bed, 5001, COMPLETE)
    shop_history(bed, 5002, RETURNED)
    next_poll(bed)
    next_poll(bed)  # an idle poll after it: nothing is counted twice
    counts = risk.lookup(bed.store, E164).counts
    assert (counts["confirmed"], counts["delivered"], counts["refused"]) == (2, 1, 1)
    row = OrderOutcome.objects.get(order_id=5002)
    assert row.outcome == "refused" and row.confirmed_via == "call" and row.status_id == RETURNED
    shop_history(bed, 5001, RETURNED)  # delivered, then sent back
    next_poll(bed)
    counts = risk.lookup(bed.store, E164).counts
    assert (counts["delivered"], counts["refused"]) == (0, 2)
    assert OrderOutcome.objects.count() == 2


def test_a_cancel_the_hub_wrote_is_not_counted_again_but_one_made_in_the_shop_is(cod_bed):
    bed = cod_bed("3.0", risk_refused_status_ids=[RETURNED])
    bed.sim.set_customer(E164, call="cancel_twice")
    add_order(bed.shop, 5003, telephone=PHONE)
    bed.run()
    assert Confirmation.objects.get(order_id=5003).state == "cancelled" and bed.order_status(5003) == 7
    next_poll(bed)  # the hub's own cancel comes back through the feed
    assert risk.lookup(bed.store, E164).counts["cancelled"] == 1 and not OrderOutcome.objects.exists()
    bed.sim.set_customer(E164, call="confirm")
    add_order(bed.shop, 5004, telephone=PHONE)
    next_poll(bed)
    assert Confirmation.objects.get(order_id=5004).state == "confirmed"
    shop_history(bed, 5004, 7)  # confirmed, then the shop cancelled it (the customer rang the shop)
    next_poll(bed)
    assert risk.lookup(bed.store, E164).counts["cancelled"] == 2
    assert OrderOutcome.objects.get(order_id=5004).outcome == "cancelled"


def test_outcomes_count_while_confirmation_is_switched_off_and_unmapped_statuses_do_not(cod_bed):
    from ocbridge.core.models import Integration

    bed = cod_bed("3.0", risk_delivered_status_ids=[COMPLETE])
    bed.sim.set_customer(E164, call="confirm")
    add_order(bed.shop, 5005, telephone=PHONE)
    bed.run()
    Integration.objects.filter(pk=bed.integration.pk).update(enabled=False)
    next_poll(bed)
    shop_history(bed, 5005, 3)  # "Shipped": not an outcome
    shop_history(bed, 5005, COMPLETE)
    next_poll(bed)
    Integration.objects.filter(pk=bed.integration.pk).update(enabled=True)
    next_poll(bed)
    assert risk.lookup(bed.store, E164).counts["delivered"] == 1
    assert OrderOutcome.objects.get(order_id=5005).status_id == COMPLETE
