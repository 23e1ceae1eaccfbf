"""The payment settings form: APS's integration type and installments (with the per-currency minimum), refused
combinations, and a LatitudePay integration that shows none of them."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ocbridge.core.models import Connection, Integration, Store
from ocbridge.integrations.payments.config import PaymentConfig
from ocbridge.integrations.payments.forms import PaymentSettingsForm

pytestmark = pytest.mark.django_db

BASE = {"command": "PURCHASE", "paid_status_id": "2", "link_hours": "48", "language": "en",
        "installments_min_AED": "1000", "installments_min_SAR": "1500", "installments_min_EGP": "5000"}


def _integration(kind="aps"):
    store = Store.objects.create(name="Gulf", db_url="sqlite:///unused.db")
    conn = Connection.objects.create(store=store, service=kind, secret={})
    return Integration.objects.create(store=store, kind=kind, connection=conn, settings={})


def test_merchant_page_with_hosted_installments_is_saved_with_minimums():
    integration = _integration()
    form = PaymentSettingsForm.from_integration(integration, {**BASE, "integration_type": "merchant_page",
                                                              "installments": "hosted"})
    assert form.is_valid(), form.errors
    cfg = form.save(integration)
    assert (cfg.integration_type, cfg.installments) == ("merchant_page", "hosted")
    assert cfg.installments_min == {"AED": "1000", "SAR": "1500", "EGP": "5000"}
    again = PaymentConfig.from_settings(Integration.objects.get(pk=integration.pk).settings)
    assert again.installments_for(Decimal("1499.99"), "SAR") == "" and again.installments_for(Decimal("1500"), "sar") == "hosted"
    assert again.installments_for(Decimal("99999"), "KWD") == ""  # APS has no installments there
    form = PaymentSettingsForm.from_integration(integration)
    assert form.initial["installments_min_SAR"] == "1500"


def test_hosted_installments_without_the_merchant_page_are_refused():
    integration = _integration()
    form = PaymentSettingsForm.from_integration(integration, {**BASE, "integration_type": "redirection",
                                                              "installments": "hosted"})
    assert not form.is_valid() and "installments" in form.errors
    # a stored combination like that (edited by hand) is read as installments off
    assert PaymentConfig.from_settings({"installments": "hosted"}).installments == "off"


def test_latitudepay_form_has_no_aps_fields():
    integration = _integration("latitudepay")
    form = PaymentSettingsForm.from_integration(integration, {k: v for k, v in BASE.items()
                                                              if not k.startswith("installments_min")})
    assert "integration_type" not in form.fields and "installments_min_AED" not in form.fields
    assert form.is_valid(), form.errors
    assert form.save(integration).installments == "off"


def test_settings_page_shows_the_aps_fields_in_turkish(client):
    from django.contrib.auth.models import User
    from django.urls import reverse

    integration = _integration()
    User.objects.create_superuser("owner", password="pw-owner-123")
    client.force_login(User.objects.get(username="owner"))
    resp = client.get(reverse("dashboard:integration", args=[integration.store_id, "aps"]), HTTP_ACCEPT_LANGUAGE="tr")
    body = resp.content.decode()
    assert resp.status_code == 200
    assert 'name="integration_type"' in body and 'name="installments"' in body and 'name="installments_min_SAR"' in body
    assert "Taksitler" in body and "Kart sayfası" in body
