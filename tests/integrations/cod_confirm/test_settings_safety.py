"""Settings that cannot break the hub: absurd values refused at save time; changed calling hours re-plan at once."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django import forms as djforms

from ocbridge.core import registry
from ocbridge.core.models import Integration, Job, Store
from ocbridge.integrations.cod_confirm.config import CodConfirmConfig
from ocbridge.integrations.cod_confirm.forms import CodConfirmForm

NOW = dt.datetime(2026, 12, 7, 19, 30, tzinfo=dt.timezone.utc)  # 22:30 in Istanbul: outside 09:00-21:00


def _valid_data(**over) -> dict:
    cfg = CodConfirmConfig()
    data = {k: v for k, v in CodConfirmForm.initial_from(cfg).items() if v not in (None, False)}
    data.update({"cod_codes": ["cod"], "pending_status_id": 1, "confirmed_status_id": 2, "cancelled_status_id": 7})
    data.update(over)
    return data


@pytest.mark.parametrize("field,value", [
    ("step1_delay", "99999999999999999999"),
    ("step2_window", "1e30"),
    ("return_shipping_cost", "1e30"),
    ("return_shipping_cost", "NaN"),
    ("max_total", "99999999999999999999"),
    ("skip_after_completed_orders", "99999999999999999999"),
])
def test_absurd_values_are_refused_with_a_message_on_the_field(field, value):
    assert CodConfirmForm(_valid_data()).is_valid(), CodConfirmForm(_valid_data()).errors
    form = CodConfirmForm(_valid_data(**{field: value}))
    assert not form.is_valid() and field in form.errors


def _numeric_fields(form):
    return {name: f for name, f in form.fields.items()
            if isinstance(f, (djforms.IntegerField, djforms.DecimalField, djforms.FloatField))}


@pytest.mark.django_db
def test_every_numeric_field_of_every_settings_form_has_a_ceiling():
    """A new number field without max_value fails here: it would let a typo like 99999999999999999999 through."""
    from ocbridge.dashboard.forms import StoreForm

    store = Store.objects.create(name="S", db_url="sqlite:////nonexistent/x.db")
    unbounded = {}
    for kind, info in registry.integrations.items():
        if info.config_form is None:
            continue
        integ = Integration(store=store, kind=kind)
        try:
            form = info.config_form.from_integration(integ) if hasattr(info.config_form, "from_integration") \
                else info.config_form()
        except Exception:  # a form needing its shop: built with defaults
            form = info.config_form()
        for name, f in _numeric_fields(form).items():
            if f.max_value is None:
                unbounded.setdefault(kind, []).append(name)
    for name, f in _numeric_fields(StoreForm()).items():
        if f.max_value is None:
            unbounded.setdefault("store", []).append(name)
    assert unbounded == {}


@pytest.mark.django_db
@time_machine.travel(NOW, tick=False)
def test_widening_the_calling_hours_replans_waiting_attempts_at_once():
    from ocbridge.integrations.cod_confirm.jobs import StartAttempt
    from ocbridge.integrations.cod_confirm.models import Confirmation

    store = Store.objects.create(name="S", timezone="Europe/Istanbul", db_url="sqlite:////x.db")
    integ = Integration.objects.create(store=store, kind="cod_confirm", settings=CodConfirmConfig().to_settings())
    c = Confirmation.objects.create(store=store, integration=integ, order_id=5, order_label="5", status_at_start=1,
                                    phone="+905321234567", state="scheduled", created=NOW - dt.timedelta(minutes=5))
    tomorrow_9 = dt.datetime(2026, 12, 8, 9, 0, tzinfo=ZoneInfo("Europe/Istanbul"))
    job = Job.objects.create(kind=StartAttempt.kind, key="k:5:1", store=store, integration=integ,
                             payload={"confirmation_id": c.pk, "number": 1}, next_run_at=tomorrow_9)
    form = CodConfirmForm(_valid_data(**{f"hours_{d}": "00:00-24:00" for d in "0123456"}))
    assert form.is_valid(), form.errors
    form.save(integ, "owner")
    job.refresh_from_db()
    c.refresh_from_db()
    assert job.next_run_at == NOW and c.next_attempt_at == NOW  # due now, not at tomorrow's old opening

    form = CodConfirmForm(_valid_data(**{f"hours_{d}": "10:00-12:00" for d in "0123456"}))
    assert form.is_valid()
    form.save(integ, "owner")
    job.refresh_from_db()
    assert job.next_run_at == dt.datetime(2026, 12, 8, 10, 0, tzinfo=ZoneInfo("Europe/Istanbul"))


def test_the_plan_form_takes_each_channels_countries_and_refuses_unknown_codes():
    form = CodConfirmForm(_valid_data())
    assert CodConfirmForm.initial_from(CodConfirmConfig())["whatsapp_off_countries"] == "RU"
    names = list(form.fields)
    assert names.index("whatsapp_countries") > names.index("step3_window")  # right under the plan's rows
    form = CodConfirmForm(_valid_data(whatsapp_countries="tr, az;AE", whatsapp_off_countries="RU",
                                      call_countries="TR", sms_countries=""))
    assert form.is_valid(), form.errors
    cfg = form.to_config(CodConfirmConfig())
    assert (cfg.whatsapp_countries, cfg.whatsapp_off_countries, cfg.call_countries, cfg.sms_countries) == (
        ["TR", "AZ", "AE"], ["RU"], ["TR"], [])
    bad = CodConfirmForm(_valid_data(whatsapp_countries="TR, Turkey, XX"))
    assert not bad.is_valid() and "TURKEY, XX" in bad.errors["whatsapp_countries"][0]


def test_outcome_statuses_must_be_the_shops_later_statuses():
    form = CodConfirmForm(_valid_data(risk_refused_status_ids=["7"], risk_delivered_status_ids=[]),
                          statuses={1: "Pending", 2: "Processing", 5: "Complete", 7: "Canceled", 12: "Reversed"})
    assert not form.is_valid() and "risk_refused_status_ids" in form.errors
    form = CodConfirmForm(_valid_data(risk_refused_status_ids=["12"], risk_delivered_status_ids=["12"]),
                          statuses={1: "Pending", 2: "Processing", 5: "Complete", 7: "Canceled", 12: "Reversed"})
    assert not form.is_valid() and "risk_delivered_status_ids" in form.errors
    form = CodConfirmForm(_valid_data(risk_refused_status_ids=["12"], risk_delivered_status_ids=["5"]),
                          statuses={1: "Pending", 2: "Processing", 5: "Complete", 7: "Canceled", 12: "Reversed"})
    assert form.is_valid(), form.errors
    cfg = form.to_config(CodConfirmConfig())
    assert (cfg.risk_refused_status_ids, cfg.risk_delivered_status_ids) == ([12], [5])
