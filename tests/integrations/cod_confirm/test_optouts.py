"""The do-not-contact list end to end: a customer's STOP reply (answered once, recorded), the owner's list, every
channel of the plan respecting it, and the order always reaching a person. Real MariaDB, the Sandbox simulator."""

import pytest

from ocbridge.core import clock, optouts
from ocbridge.core.models import AuditEntry, OptOut
from ocbridge.integrations.cod_confirm import actions
from ocbridge.integrations.cod_confirm.models import Confirmation
from opencart.opencart_helpers import add_order

pytestmark = pytest.mark.django_db(transaction=True)
PHONE, E164 = "0532 123 45 67", "+905321234567"


def test_a_stop_reply_is_recorded_answered_once_and_the_order_goes_to_a_person(cod_bed):
    bed = cod_bed("3.0", channels=["sms"] * 3)
    add_order(bed.shop, 1040, telephone=PHONE)
    # The customer answers "СТОП" to every SMS, the answer to their STOP included: a ping-pong would show here.
    bed.sim.set_customer(E164, sms_reply="СТОП")
    bed.run()
    c = Confirmation.objects.get(order_id=1040)
    assert (c.state, c.needs_person_reason) == ("needs_person", "opted out")
    assert bed.order_status(1040) == 1 and bed.history(1040) == []  # nobody decided for the customer
    row = OptOut.objects.get(store=bed.store, phone=E164)
    assert (row.scope, row.source, row.reply) == ("all", "reply", "СТОП")
    sent = bed.sim.messages()
    assert len(sent) == 2, sent  # the confirmation and one answer to the STOP, never a second one
    assert "otomatik olarak aramayacak" in sent[1]["text"] and "{" not in sent[1]["text"]
    assert AuditEntry.objects.filter(action="optout.add", store=bed.store, user="customer").count() == 1

    # Their next order: nothing is sent, and it waits for a person instead of being dropped.
    add_order(bed.shop, 1041, telephone=PHONE)
    clock.travel(60)  # the next shop poll
    bed.run()
    c2 = Confirmation.objects.get(order_id=1041)
    assert (c2.state, c2.needs_person_reason) == ("needs_person", "opted out")
    assert len(bed.sim.messages()) == 2 and c2.attempts.count() == 0
    with pytest.raises(actions.OptedOut):
        actions.manual_retry(c2, channel="sms", user="owner", reason="customer asked to be texted")


def test_stop_with_another_answer_is_read_by_a_person_not_taken_as_an_opt_out(cod_bed):
    bed = cod_bed("3.0", channels=["sms"] * 3)
    add_order(bed.shop, 1042, telephone=PHONE)
    bed.sim.set_customer(E164, sms_reply="iptal stop")
    bed.run()
    c = Confirmation.objects.get(order_id=1042)
    assert (c.state, c.needs_person_reason) == ("needs_person", "reply not understood")
    assert not OptOut.objects.exists()


def test_do_not_call_skips_the_call_steps_and_texts_instead(cod_bed):
    bed = cod_bed("3.0", channels=["call", "call", "sms"], delays=[0, 30, 90])
    optouts.add(bed.store, E164, scope="calls", user="owner", note="asked on the phone")
    add_order(bed.shop, 1043, telephone=PHONE)
    bed.sim.set_customer(E164, call="confirm", sms_reply="evet")
    bed.run()
    c = Confirmation.objects.get(order_id=1043)
    assert [a.channel for a in c.attempts.all()] == ["sms"] and bed.sim.calls() == []
    assert c.state == "confirmed" and bed.order_status(1043) == 2
    with pytest.raises(actions.OptedOut):
        actions.manual_retry(c, channel="call", user="owner", reason="call to check")


def test_do_not_text_with_only_text_steps_left_goes_to_a_person(cod_bed):
    bed = cod_bed("3.0", channels=["sms", "sms"], delays=[0, 30])
    optouts.add(None, E164, scope="messages", user="admin")  # the hub-wide list applies to every store
    add_order(bed.shop, 1044, telephone=PHONE)
    bed.run()
    c = Confirmation.objects.get(order_id=1044)
    assert (c.state, c.needs_person_reason) == ("needs_person", "opted out")
    assert bed.sim.messages() == [] and c.attempts.count() == 0


def test_an_unclear_text_from_a_number_on_the_list_gets_no_polite_answer(cod_bed):
    bed = cod_bed("3.0", channels=["sms"] * 3)
    other = "+905321112233"
    optouts.add(bed.store, other, scope="messages", user="owner")
    add_order(bed.shop, 1045, telephone=PHONE)
    bed.sim.set_customer(E164, sms_reply=None)
    bed.run()
    inbound_url = bed.sim._last_sms_url[E164]  # where the store's SMS replies arrive
    bed.sim.inject_sms("+905329876543", "kargo nerede?", url=inbound_url)
    bed.sim.inject_sms(other, "kargo nerede?", url=inbound_url)
    bed.run()
    to = [m["to"] for m in bed.sim.messages()]
    assert to.count("+905329876543") == 1 and other not in to  # a polite answer to the one, none to the other
