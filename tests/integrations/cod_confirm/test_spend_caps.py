"""Spend control end to end (core.spend): a store's daily caps reached mid-day send the rest of the day's orders to
a person — never dropped, never called —, the day starts again at the store's midnight, the cost cap uses the
owner's prices, and the owner is told. Real MariaDB, the Sandbox simulator."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from ocbridge.core import attention, clock, spend
from ocbridge.core.models import SideEffect, SpendPolicy, Store
from ocbridge.integrations.cod_confirm.models import Confirmation
from opencart.opencart_helpers import add_order

pytestmark = pytest.mark.django_db(transaction=True)
IST = ZoneInfo("Europe/Istanbul")


def _to_local(hour: int) -> None:
    """Move the hub's clock to today `hour`:00 in Istanbul (tomorrow when that has passed)."""
    now = clock.now().astimezone(IST)
    target = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    if target <= now:
        target += dt.timedelta(days=1)
    clock.travel((target - now).total_seconds())


def test_a_count_cap_reached_mid_day_hands_the_rest_to_a_person_until_midnight(cod_bed):
    bed = cod_bed("3.0", channels=["sms"], delays=[0])
    _to_local(11)
    SpendPolicy.objects.create(store=bed.store, sms_cap=2)
    for n in range(3):
        phone = f"0532 123 45 6{n}"
        bed.sim.set_customer(f"+90532123456{n}", sms_reply="evet")
        add_order(bed.shop, 1100 + n, telephone=phone)
    clock.travel(60)
    bed.run()
    states = dict(Confirmation.objects.values_list("order_id", "state"))
    assert sorted(states.values()) == ["confirmed", "confirmed", "needs_person"]  # none dropped
    late = Confirmation.objects.get(state="needs_person")
    assert late.needs_person_reason == "daily cap reached" and late.attempts.get().state == "over_cap"
    assert "daily cap is reached (the daily cap of 2 sms is reached)" in late.transitions.order_by("-pk").first().reason
    assert len(bed.sim.messages()) == 2 and SideEffect.objects.filter(kind="sms").count() == 2
    told = [a.text for a in attention.needs_attention(Store.objects.filter(pk=bed.store.pk))
            if a.key == "core.cap_reached"]
    assert told and "SMS" in told[0]

    _to_local(9)  # the next morning: the cap counts the new day only
    bed.sim.set_customer("+905321234599", sms_reply="evet")
    add_order(bed.shop, 1110, telephone="0532 123 45 99")
    clock.travel(60)
    bed.run()
    assert Confirmation.objects.get(order_id=1110).state == "confirmed" and len(bed.sim.messages()) == 3


def test_the_cost_cap_uses_the_owners_prices(cod_bed):
    bed = cod_bed("3.0", channels=["sms"], delays=[0])
    _to_local(11)
    SpendPolicy.objects.create(store=bed.store, cost_cap=Decimal("1.00"), prices={"sandbox": {"sms": "0.40"}})
    for n in range(4):
        bed.sim.set_customer(f"+90532123457{n}", sms_reply="evet")
        add_order(bed.shop, 1200 + n, telephone=f"0532 123 45 7{n}")
    clock.travel(60)
    bed.run()
    assert Confirmation.objects.filter(state="confirmed").count() == 2  # 0.40 + 0.40; a third would be 1.20
    assert Confirmation.objects.filter(state="needs_person", needs_person_reason="daily cap reached").count() == 2
    t = spend.today(bed.store)
    assert (t["counts"]["sms"], t["spent"], t["unpriced"]) == (2, Decimal("0.80"), 0)


def test_a_key_already_requested_is_never_refused_and_other_stores_do_not_count(db):
    a, b = Store.objects.create(name="A"), Store.objects.create(name="B")
    SpendPolicy.objects.create(store=a, call_cap=1)
    first, why = spend.request("k1", kind="call", service="netgsm", store=a)
    assert first is not None and why == ""
    again, why = spend.request("k1", kind="call", service="netgsm", store=a)  # the same call asked again
    assert again.pk == first.pk and why == ""
    refused, why = spend.request("k2", kind="call", service="netgsm", store=a)
    assert refused is None and "daily cap of 1 call is reached" in why
    assert spend.request("k3", kind="call", service="netgsm", store=b)[0] is not None  # B has no limits
    assert spend.request("k4", kind="sms", service="netgsm", store=a)[0] is not None  # calls are capped, not SMS
    first.state = "failed"
    first.save()
    assert spend.request("k5", kind="call", service="netgsm", store=a)[0] is not None  # a refused call cost nothing


def test_the_overview_shows_cost_per_confirmation_and_per_saved_return(cod_bed):
    from ocbridge.dashboard.overview import Period, cod_headline_card

    bed = cod_bed("3.0", channels=["sms"], delays=[0])
    _to_local(11)
    SpendPolicy.objects.create(store=bed.store, prices={"sandbox": {"sms": "0.50"}})
    for n, reply in enumerate(["evet", "evet", "evet", "iptal"]):
        bed.sim.set_customer(f"+90532123458{n}", sms_reply=reply)
        add_order(bed.shop, 1300 + n, telephone=f"0532 123 45 8{n}")
    clock.travel(60)
    bed.run()
    rows = {r[0]: r[1:] for r in cod_headline_card(bed.store, Period.last(7, IST)).rows}
    assert rows["Estimated cost of calls and messages"][0].replace("\xa0", " ") in ("₺2,00", "₺2.00", "2.00 TRY")
    per_confirmed, per_return = rows["Cost per confirmed order"][0], rows["Cost per saved return"][0]
    assert "0,67" in per_confirmed or "0.67" in per_confirmed  # 2.00 / 3 confirmed
    assert "2,00" in per_return or "2.00" in per_return  # 2.00 / 1 cancelled


def test_text_again_the_next_day_after_the_cap_sends_one_sms(cod_bed):
    """A person presses "text again" on a case the daily cap handed over (its attempt 'over_cap': never made): the
    next morning one SMS goes out and the reply decides the case. Before, the manual attempt reused the not-made
    attempt's number and key, found that row already closed, and sent nothing — silently."""
    from ocbridge.integrations.cod_confirm.actions import manual_retry

    bed = cod_bed("3.0", channels=["sms"], delays=[0])
    _to_local(11)
    SpendPolicy.objects.create(store=bed.store, sms_cap=1)
    for n in range(2):
        bed.sim.set_customer(f"+90532123456{n}", sms_reply="evet")
        add_order(bed.shop, 1120 + n, telephone=f"0532 123 45 6{n}")
    clock.travel(60)
    bed.run()
    late = Confirmation.objects.get(state="needs_person")
    assert late.attempts.get().state == "over_cap" and len(bed.sim.messages()) == 1

    _to_local(9)
    manual_retry(late, channel="sms", user="ayse", reason="cap is new today")
    bed.run()
    late.refresh_from_db()
    assert len(bed.sim.messages()) == 2 and late.state == "confirmed"
    assert list(late.attempts.order_by("number").values_list("state", flat=True)) == ["over_cap", "answered"]
