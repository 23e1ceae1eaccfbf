"""COD overview: today / 7 / 30-day figures, median time to confirm, money saved, charts and connection health."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse
from django.utils import translation

from ocbridge.dashboard import cod_stats, dbtime, l10n, overview
from testkit import cod_integration

pytestmark = pytest.mark.django_db
IST = ZoneInfo("Europe/Istanbul")
# 2026-03-10 12:00 in Istanbul (UTC+3 all year).
NOW = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def integ(store, connection):
    from ocbridge.core.models import Integration
    from ocbridge.integrations.cod_confirm.config import CodConfirmConfig

    store.timezone, store.currency = "Europe/Istanbul", "TRY"
    store.save()
    cfg = CodConfirmConfig(return_shipping_cost=Decimal("75.50"))
    return cod_integration(store, connection, settings=cfg.to_settings())


def _conf(integ, n, state, created, decided_after=None, attempts=()):
    from ocbridge.integrations.cod_confirm.models import Attempt, Confirmation

    c = Confirmation.objects.create(
        store=integ.store, integration=integ, order_id=n, order_label=str(n), status_at_start=1, state=state,
        created=created, decided_at=created + dt.timedelta(seconds=decided_after) if decided_after else None)
    for k, (channel, a_state, at) in enumerate(attempts, 1):
        Attempt.objects.create(confirmation=c, number=k, channel=channel, service="sandbox", key=f"k:{n}:{k}",
                               state=a_state, created=at)
    return c


@pytest.fixture
def data(integ):
    today = NOW - dt.timedelta(hours=1)
    _conf(integ, 1, "confirmed", today, decided_after=60, attempts=[("call", "answered", today)])
    _conf(integ, 2, "confirmed", today, decided_after=180, attempts=[("call", "answered", today)])
    _conf(integ, 3, "cancelled", today, decided_after=30, attempts=[("sms", "answered", today)])
    _conf(integ, 4, "calling", today, attempts=[("call", "in_flight", today)])
    _conf(integ, 9, "needs_person", today)  # its own group, not folded into "pending"
    d5 = NOW - dt.timedelta(days=5)
    _conf(integ, 5, "confirmed", d5, decided_after=600,
          attempts=[("call", "no_answer", d5), ("call", "answered", d5 + dt.timedelta(hours=2))])
    _conf(integ, 6, "expired", d5, attempts=[("call", "no_answer", d5)])
    d20 = NOW - dt.timedelta(days=20)
    _conf(integ, 7, "cancelled", d20, decided_after=100)
    _conf(integ, 8, "confirmed", NOW - dt.timedelta(days=40), decided_after=5)  # outside every window
    return integ


@time_machine.travel(NOW, tick=False)
def test_headline_counts_rate_median_and_money_per_window(data, store):
    figs = cod_stats.headline(store, IST, NOW)
    assert [figs[w].total for w in ("today", "7", "30")] == [5, 7, 8]
    assert figs["today"].counts == {"confirmed": 2, "cancelled": 1, "no_answer": 0, "pending": 1,
                                    "needs_person": 1, "other": 0}
    assert figs["7"].counts["no_answer"] == 1
    assert figs["today"].rate == pytest.approx(200 / 3)
    assert figs["30"].rate == pytest.approx(100 * 3 / 6)
    assert figs["today"].median_confirm_seconds == pytest.approx(120)  # (60 + 180) / 2
    assert figs["7"].median_confirm_seconds == pytest.approx(180)  # 60, 180, 600
    assert figs["today"].saved == {"TRY": Decimal("75.50")}
    assert figs["30"].saved == {"TRY": Decimal("151.00")}


@time_machine.travel(NOW, tick=False)
def test_headline_card_is_localised_in_turkish_and_russian(data, store):
    period = overview.Period.last(30, IST)
    with translation.override("tr"):
        card = overview.cod_headline_card(store, period)
        rows = {r[0]: r[1:] for r in card.rows}
        assert card.columns == ["Bugün", "7 gün", "30 gün"]
        assert rows["Onay oranı"][0] == "%67"
        assert rows["Tahmini tasarruf"] == ("₺75,50", "₺75,50", "₺151,00")
        assert rows["Onaylama süresi (medyan)"][0] == "2 dk 00 sn"
    with translation.override("ru"):
        card = overview.cod_headline_card(store, period)
        rows = {r[0]: r[1:] for r in card.rows}
        assert rows["Сэкономлено (оценка)"][2] == "151,00\u00a0₺"
        assert rows["Доля подтверждённых"][2] == "50\u00a0%"


@time_machine.travel(NOW, tick=False)
def test_outcomes_per_day_use_the_store_day(integ, store):
    # 22:30 UTC on 3 March is already 4 March in Istanbul.
    late = dt.datetime(2026, 3, 3, 22, 30, tzinfo=dt.UTC)
    _conf(integ, 11, "confirmed", late)
    _conf(integ, 12, "cancelled", late - dt.timedelta(hours=2))
    period = overview.Period.last(30, IST)
    per_day = cod_stats.outcomes_per_day(store, IST, period.start, period.end)
    assert per_day["confirmed"] == {dt.date(2026, 3, 4): 1}
    assert per_day["cancelled"] == {dt.date(2026, 3, 3): 1}


@time_machine.travel(NOW, tick=False)
def test_channel_split_and_answer_rate_by_store_hour(data, store):
    period = overview.Period.last(30, IST)
    split = cod_stats.channel_split(store, period.start, period.end)
    assert split == {"call": {"sent": 6, "answered": 3}, "sms": {"sent": 1, "answered": 1}}
    hours = cod_stats.answers_by_hour(store, IST, period.start, period.end)
    # NOW - 1 h = 08:00 UTC = 11:00 Istanbul: three answered; 5 days ago 09:00 UTC = 12:00: two unanswered.
    assert hours[11] == (3, 3)
    assert hours[12] == (2, 0)
    assert hours[14] == (1, 1)


@time_machine.travel(NOW, tick=False)
def test_an_undelivered_message_is_left_out_of_the_answer_rate_by_hour(integ, store):
    """At 11:00 Istanbul one call was answered and one SMS was reported undelivered (closed by jobs.after_no_answer
    as the delivery report job closes it). The SMS never arrived: the answer rate leaves it out — 100 %, not 50 %
    (before: it was kept as "no answer"), and the card says the rate is of what reached the customer."""
    from ocbridge.integrations.cod_confirm import jobs

    at = NOW - dt.timedelta(hours=1)  # 11:00 in Istanbul
    _conf(integ, 41, "confirmed", at, decided_after=60, attempts=[("call", "answered", at)])
    sms = _conf(integ, 42, "sms_sent", at, attempts=[("sms", "in_flight", at)])
    jobs.after_no_answer(sms, sms.attempts.get(), reason="SMS not delivered (undelivered)", reached=False)
    assert sms.attempts.get().state == "undelivered"
    period = overview.Period.last(30, IST)
    assert cod_stats.answers_by_hour(store, IST, period.start, period.end)[11] == (1, 1)
    assert cod_stats.channel_split(store, period.start, period.end)["sms"] == {"sent": 1, "answered": 0}
    with translation.override("en"):
        card = overview.cod_hours_card(store, period)
        assert (card.value, card.note) == ("100%", "answered, of the calls and messages that reached the customer; "
                                                   "store time")
    with translation.override("tr"):
        assert overview.cod_hours_card(store, period).value == "%100"


@time_machine.travel(NOW, tick=False)
def test_migration_marks_attempts_closed_undelivered_before_the_state_existed(integ, store):
    """Migration cod_confirm 0020 on rows the old code wrote: an attempt closed 'no_answer' by an undelivered report
    (its closing transition says so: by provider id, or by attempt number) becomes 'undelivered', and past periods'
    answer rate leaves it out; an attempt that rang unanswered stays 'no_answer'."""
    from importlib import import_module

    from django.apps import apps

    from ocbridge.integrations.cod_confirm.models import Attempt, Transition

    at = NOW - dt.timedelta(hours=1)  # 11:00 in Istanbul

    def closed(c, number, reason, provider_id=""):
        a = c.attempts.get(number=number)
        Attempt.objects.filter(pk=a.pk).update(provider_id=provider_id)
        Transition.objects.create(confirmation=c, from_state="sms_sent", to_state="no_answer", reason=reason,
                                  channel=a.channel, provider_id=provider_id)

    sms = _conf(integ, 51, "needs_person", at, attempts=[("sms", "no_answer", at)])
    closed(sms, 1, "SMS not delivered (undelivered)", "SMS-1")
    mixed = _conf(integ, 52, "needs_person", at, attempts=[("whatsapp", "no_answer", at), ("call", "no_answer", at),
                                                           ("whatsapp", "no_answer", at)])
    closed(mixed, 1, "attempt 1: whatsapp reported it undelivered (131026: Message undeliverable)")
    closed(mixed, 2, "no result for attempt 2 in time", "CALL-2")
    closed(mixed, 3, "WhatsApp message failed (131026: Message undeliverable)", "wamid.3")
    import_module("ocbridge.integrations.cod_confirm.migrations.0020_attempt_undelivered").mark_undelivered(apps, None)
    assert list(sms.attempts.values_list("state", flat=True)) == ["undelivered"]
    assert list(mixed.attempts.values_list("state", flat=True)) == ["undelivered", "no_answer", "undelivered"]
    period = overview.Period.last(30, IST)
    assert cod_stats.answers_by_hour(store, IST, period.start, period.end)[11] == (1, 0)


@time_machine.travel(NOW, tick=False)
def test_migration_marks_attempts_withdrawn_on_switch_on_before_the_state_existed(integ, store):
    """Migration cod_confirm 0021 on rows the old code wrote: an attempt stored 'no_answer' whose outbox row was
    cancelled (the switch-on withdrawal of a paused call: never sent) becomes 'withdrawn' and leaves past periods'
    answer rate; an attempt that rang unanswered (its outbox row sent) stays 'no_answer'."""
    from importlib import import_module

    from django.apps import apps

    from ocbridge.core.models import SideEffect

    at = NOW - dt.timedelta(hours=1)  # 11:00 in Istanbul
    c = _conf(integ, 53, "needs_person", at, attempts=[("call", "no_answer", at), ("call", "no_answer", at)])
    for a, state in zip(c.attempts.order_by("number"), ["sent", "cancelled"]):
        SideEffect.objects.create(key=a.key, kind="call", service="sandbox", store=store, state=state)
    import_module("ocbridge.integrations.cod_confirm.migrations.0021_attempt_withdrawn").mark_withdrawn(apps, None)
    assert list(c.attempts.order_by("number").values_list("state", flat=True)) == ["no_answer", "withdrawn"]
    period = overview.Period.last(30, IST)
    assert cod_stats.answers_by_hour(store, IST, period.start, period.end)[11] == (1, 0)
    assert cod_stats.channel_split(store, period.start, period.end) == {"call": {"sent": 1, "answered": 0}}


def test_local_day_follows_daylight_saving_switch(db):
    """Europe/Berlin switches to summer time on 2026-03-29 01:00 UTC: 23:30 UTC is the next day only after it."""
    from django.db.models import Value

    from ocbridge.core.models import Exchange

    berlin = ZoneInfo("Europe/Berlin")
    start = dt.datetime(2026, 3, 20, tzinfo=berlin)
    end = dt.datetime(2026, 4, 5, tzinfo=berlin)
    assert [off for _t, off in dbtime.offset_stretches(berlin, start, end)] == [60, 120]
    Exchange.objects.create(service="netgsm", created=dt.datetime(2026, 3, 25, 22, 30, tzinfo=dt.UTC))  # 23:30
    Exchange.objects.create(service="netgsm", created=dt.datetime(2026, 4, 1, 22, 30, tzinfo=dt.UTC))  # 00:30
    rows = (Exchange.objects.annotate(day=dbtime.local_date("created", berlin, start, end),
                                      hour=dbtime.local_hour("created", berlin, start, end), one=Value(1))
            .order_by("created").values_list("day", "hour"))
    assert [(str(d), h) for d, h in rows] == [("2026-03-25", 23), ("2026-04-02", 0)]


@time_machine.travel(NOW, tick=False)
def test_overview_page_shows_cod_figures_charts_and_connection_health(client_in, data, store, connection):
    from ocbridge.core.models import Connection

    Connection.objects.filter(pk=connection.pk).update(
        last_ok_at=NOW - dt.timedelta(hours=3), last_error_at=NOW - dt.timedelta(hours=1), last_error="503 upstream",
        rate_limited_count=1234)
    html = client_in.get(reverse("dashboard:home")).content.decode()  # one store: chosen without asking
    for text in ("COD orders", "Median time to confirm", "Estimated money saved", "₺151.00", "Outcomes per day",
                 "Channel split", "Answer rate by hour of day", "503 upstream", "1,234", "10.03.2026" if False else "Main PBX"):
        assert text in html, text
    assert html.count('<svg xmlns="http://www.w3.org/2000/svg" class="chart"') >= 4


def test_overview_with_no_data_and_no_store(client_in):
    resp = client_in.get(reverse("dashboard:home"))
    assert resp.status_code == 200
    html = resp.content.decode()
    assert "No stores yet." in html and "No data for this period" in html


def test_l10n_helpers():
    with translation.override("en"):
        assert l10n.money(Decimal("1234.5"), "TRY") == "₺1,234.50"
        assert l10n.money(10, "XYZ") == "10.00\u00a0XYZ"
        assert l10n.percent(45.4) == "45%"
        assert l10n.duration(45) == "45 s" and l10n.duration(3 * 3600 + 7 * 60) == "3 h 07 min"
        assert l10n.number(1234567) == "1,234,567"
    with translation.override("tr"):
        assert l10n.money(Decimal("1234.5"), "TRY") == "₺1.234,50"
        assert l10n.number(1234567) == "1.234.567"
    with translation.override("ru"):
        assert l10n.money(Decimal("1234.5"), "RUB") == "1\u00a0234,50\u00a0₽"


@time_machine.travel(NOW, tick=False)
def test_attempts_count_in_the_period_they_were_made_and_per_store(data, store, integ):
    """Channel split and answer rate count the attempts made in the period (Attempt.created, the store copied on
    each attempt), not those of the orders created in it: a call this morning for an order of 40 days ago counts,
    one made 40 days ago for it does not; another store's attempts count only on the all-stores overview."""
    from ocbridge.core.models import Integration, Store
    from ocbridge.integrations.cod_confirm.models import Attempt

    old = NOW - dt.timedelta(days=40)
    c = _conf(integ, 20, "confirmed", old, attempts=[("call", "no_answer", old), ("sms", "answered", NOW)])
    assert {a.store_id for a in Attempt.objects.filter(confirmation=c)} == {store.pk}  # filled from the order
    other = Store.objects.create(name="Other", timezone="Europe/Istanbul")
    other_integ = Integration.objects.create(store=other, kind="cod_confirm", settings={})
    _conf(other_integ, 21, "confirmed", NOW - dt.timedelta(hours=2), attempts=[("sms", "answered", NOW)])
    period = overview.Period.last(30, IST)
    split = cod_stats.channel_split(store, period.start, period.end)
    assert split == {"call": {"sent": 6, "answered": 3}, "sms": {"sent": 2, "answered": 2}}
    assert cod_stats.answers_by_hour(store, IST, period.start, period.end)[12] == (3, 1)  # NOW = 12:00 Istanbul
    everyone = cod_stats.channel_split(None, period.start, period.end)
    assert everyone["sms"] == {"sent": 3, "answered": 3} and everyone["call"]["sent"] == 6


@pytest.mark.django_db(transaction=True)
def test_migration_copies_each_attempts_store_from_its_confirmation():
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    # core stays at its newest state (its tables keep NOT NULL columns added since, e.g. Store.stock_source)
    before = [("cod_confirm", "0004_state_index"), *[n for n in executor.loader.graph.leaf_nodes() if n[0] == "core"]]
    executor.migrate(before)
    apps = executor.loader.project_state(before).apps
    Store, Integration = apps.get_model("core", "Store"), apps.get_model("core", "Integration")
    Confirmation, Attempt = apps.get_model("cod_confirm", "Confirmation"), apps.get_model("cod_confirm", "Attempt")
    ids = {}
    for name in ("A", "B"):
        s = Store.objects.create(name=name)
        i = Integration.objects.create(store=s, kind="cod_confirm", settings={})
        c = Confirmation.objects.create(store=s, integration=i, order_id=1, order_label="1", status_at_start=1)
        ids[Attempt.objects.create(confirmation=c, number=1, channel="call", service="sandbox", key=f"m:{name}").pk] = s.pk
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    from ocbridge.integrations.cod_confirm.models import Attempt as Current

    assert dict(Current.objects.filter(pk__in=ids).values_list("pk", "store_id")) == ids


@time_machine.travel(dt.datetime(2026, 4, 2, 12, 0, tzinfo=dt.UTC), tick=False)
def test_days_and_hours_follow_the_stores_daylight_saving_switch(integ, store):
    """Berlin moves to summer time on 2026-03-29 at 01:00 UTC (02:00 → 03:00 local): the local day and hour of each
    order and attempt come from the offset in force at that instant, on both sides of the switch."""
    berlin = ZoneInfo("Europe/Berlin")
    store.timezone = "Europe/Berlin"
    store.save()
    before = dt.datetime(2026, 3, 28, 23, 30, tzinfo=dt.UTC)  # 00:30 CET on the 29th
    after = dt.datetime(2026, 3, 29, 1, 30, tzinfo=dt.UTC)  # 03:30 CEST on the 29th
    late = dt.datetime(2026, 3, 29, 22, 30, tzinfo=dt.UTC)  # 00:30 CEST on the 30th (23:30 on the 29th in CET)
    _conf(integ, 31, "confirmed", before, attempts=[("call", "answered", before)])
    _conf(integ, 32, "cancelled", after, attempts=[("call", "no_answer", after)])
    _conf(integ, 33, "confirmed", late, attempts=[("sms", "answered", late)])
    period = overview.Period.last(14, berlin)
    per_day = cod_stats.outcomes_per_day(store, berlin, period.start, period.end)
    assert per_day["confirmed"] == {dt.date(2026, 3, 29): 1, dt.date(2026, 3, 30): 1}
    assert per_day["cancelled"] == {dt.date(2026, 3, 29): 1}
    hours = cod_stats.answers_by_hour(store, berlin, period.start, period.end)
    assert hours[0] == (2, 2) and hours[3] == (1, 0) and hours[2] == (0, 0) and hours[23] == (0, 0)
