"""Risk score per phone across the hub's stores: sharing off by default, counts only, the store's own rules,
never an automatic cancel."""

import pytest

from ocbridge.core import clock
from ocbridge.core.models import Integration, Store
from ocbridge.integrations.cod_confirm import risk
from ocbridge.integrations.cod_confirm.config import CodConfirmConfig
from ocbridge.integrations.cod_confirm.models import Confirmation
from ocbridge.integrations.cod_confirm.reasons import translate_reason
from opencart.opencart_helpers import add_order

PHONE = "+905321234567"


def _store(name, share=False):
    store = Store.objects.create(name=name)
    Integration.objects.create(store=store, kind="cod_confirm",
                               settings=CodConfirmConfig(risk_share=share).to_settings())
    return store


@pytest.mark.django_db
def test_a_store_sees_only_its_own_outcomes_unless_both_share():
    a, b, c = _store("Agency client A"), _store("Agency client B"), _store("Client C")
    for outcome in ("refused", "refused", "cancelled"):
        risk.record(b, PHONE, outcome)
    risk.record(a, PHONE, "confirmed")
    assert risk.lookup(a, PHONE).counts == {"confirmed": 1, "cancelled": 0, "unanswered": 0, "refused": 0,
                                            "delivered": 0}  # sharing is off by default
    for store, on in ((a, True), (b, True)):
        Integration.objects.filter(store=store).update(settings=CodConfirmConfig(risk_share=on).to_settings())
        risk.set_sharing(store, on)
    seen = risk.lookup(a, PHONE)
    assert seen.value == 3 * 2 + 2 * 1 - 1 and seen.reason == "1 confirmed, 1 cancelled, 2 refused"
    assert "Agency" not in seen.reason and "client" not in seen.reason  # counts, never a store's name
    assert risk.lookup(c, PHONE).value == 0  # C does not share: it does not see the others
    Integration.objects.filter(store=b).update(settings=CodConfirmConfig(risk_share=False).to_settings())
    risk.set_sharing(b, False)
    assert risk.lookup(a, PHONE).counts["refused"] == 0


def test_rules_hold_confirm_anyway_and_skip_proven_customers_but_never_cancel():
    bad = risk.Score(7, {"confirmed": 0, "cancelled": 2, "unanswered": 0, "refused": 1, "delivered": 0})
    good = risk.Score(-6, {"confirmed": 2, "cancelled": 0, "unanswered": 0, "refused": 0, "delivered": 2})
    cfg = CodConfirmConfig(risk_hold_above=5, risk_confirm_above=3, risk_skip_proven=2)
    assert risk.apply_rules(bad, cfg, skip=None) == ("hold", "risk score 7 is above 5 (2 cancelled, 1 refused)")
    assert risk.apply_rules(bad, CodConfirmConfig(risk_confirm_above=3), skip="customer has 3 completed orders") \
        == ("confirm", None)
    assert risk.apply_rules(good, cfg, skip=None) == ("skip", "proven customer (2 confirmed, 2 delivered)")
    assert risk.apply_rules(good, CodConfirmConfig(), skip=None) == ("", None)  # no rules set: nothing changes
    assert all(action != "cancel" for action, _ in (risk.apply_rules(bad, cfg, skip=None),))


def test_reasons_read_in_turkish():
    from django.utils import translation

    with translation.override("tr"):
        text = translate_reason("held for a person: risk score 7 is above 5 (2 cancelled, 1 refused)")
    assert text != "held for a person: risk score 7 is above 5 (2 cancelled, 1 refused)" and "7" in text


@pytest.mark.django_db(transaction=True)
def test_a_risky_phone_is_held_for_a_person_and_nobody_is_called(cod_bed):
    bed = cod_bed("3.0", risk_hold_above=2)
    other = _store("Sister shop", share=True)
    risk.record(other, PHONE, "refused")
    risk.record(other, PHONE, "refused")
    add_order(bed.shop, 4001, telephone="0532 123 45 67")
    bed.run()
    assert Confirmation.objects.get(order_id=4001).state != "needs_person"
    assert len(bed.sim.calls()) == 1  # this store does not share: the sister shop's refusals do not count
    bed.configure(risk_share=True)
    risk.set_sharing(bed.store, True)
    add_order(bed.shop, 4002, telephone="0532 123 45 67")
    clock.travel(20)  # the next shop poll
    bed.run()
    c = Confirmation.objects.get(order_id=4002)
    assert c.state == "needs_person" and c.needs_person_reason == "risk score"
    assert bed.order_status(4002) == 1 and len(bed.sim.calls()) == 1  # held, not cancelled, not called


@pytest.mark.django_db(transaction=True)
def test_decided_confirmations_feed_the_phones_history(cod_bed):
    bed = cod_bed("3.0")
    bed.sim.set_customer(PHONE, call="confirm")
    add_order(bed.shop, 4003, telephone="0532 123 45 67")
    bed.run()
    assert Confirmation.objects.get(order_id=4003).state == "confirmed"
    assert risk.lookup(bed.store, PHONE).counts["confirmed"] == 1


@pytest.mark.django_db
def test_the_confirmation_page_shows_the_score_with_counts_only(client):
    from django.contrib.auth.models import User
    from django.utils import translation

    a, b = _store("Mağaza A", share=True), _store("Secret client B", share=True)
    risk.record(b, PHONE, "refused")
    c = Confirmation.objects.create(store=a, integration=Integration.objects.get(store=a), order_id=9, order_label="9",
                                    phone=PHONE, status_at_start=1, state="needs_person")
    client.force_login(User.objects.create_user("owner", is_staff=True, is_superuser=True))
    page = client.get(f"/confirmations/{c.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Risk score" in page and "1 refused" in page and "Secret client B" not in page
    with translation.override("tr"):
        assert translate_reason("1 refused, 2 delivered") == "1 reddedildi, 2 teslim edildi"
