"""Generic integration settings page: GET shows the form, POST validates, all-or-nothing save, audited."""

import pytest
from django import forms
from django.urls import reverse

pytestmark = pytest.mark.django_db


class DemoForm(forms.Form):
    """A settings form following the convention: from_integration() and save(integration, user)."""

    threshold = forms.IntegerField(min_value=1)
    explode = forms.BooleanField(required=False)

    @classmethod
    def from_integration(cls, integration, data=None):
        return cls(data, initial=integration.settings or {"threshold": 5})

    def save(self, integration, user):
        integration.settings = {"threshold": self.cleaned_data["threshold"]}
        integration.save(update_fields=["settings", "updated"])
        if self.cleaned_data["explode"]:
            raise RuntimeError("disk full")  # after a partial write: the transaction must undo it


@pytest.fixture
def demo(monkeypatch):
    from ocbridge.core import registry
    from ocbridge.core.registry import IntegrationInfo

    info = IntegrationInfo(kind="demo_feature", label="Demo feature", services=("verimor",), config_form=DemoForm)
    monkeypatch.setitem(registry.integrations, "demo_feature", info)
    return info


def _url(store):
    return reverse("dashboard:integration", args=[store.pk, "demo_feature"])


def test_unknown_kind_is_404(client_in, store):
    assert client_in.get(reverse("dashboard:integration", args=[store.pk, "nope"])).status_code == 404


def test_get_shows_form_and_store_page_links_it(client_in, store, connection, demo):
    resp = client_in.get(_url(store))
    assert resp.status_code == 200 and 'name="threshold"' in resp.content.decode()
    assert _url(store) in client_in.get(reverse("dashboard:store", args=[store.pk])).content.decode()


def test_post_valid_creates_integration_and_audits(client_in, store, connection, demo):
    from ocbridge.core.models import AuditEntry, Integration

    resp = client_in.post(_url(store), {"integration-connection": connection.pk, "integration-enabled": "on",
                                        "threshold": "7"})
    assert resp.status_code == 302
    integ = Integration.objects.get(store=store, kind="demo_feature")
    assert integ.settings == {"threshold": 7} and integ.connection == connection and integ.enabled
    entry = AuditEntry.objects.get(object_type="integration", object_id=str(integ.pk))
    assert entry.user == "owner" and entry.action == "demo_feature.enable"


def test_invalid_post_saves_nothing_and_shows_errors_in_users_language(client_in, store, connection, demo):
    from ocbridge.core.models import AuditEntry, Integration

    client_in.cookies["django_language"] = "tr"
    resp = client_in.post(_url(store), {"integration-connection": connection.pk, "threshold": "0"})
    assert resp.status_code == 200
    html = resp.content.decode()
    assert "threshold_errors" in html
    assert "1 değerinden büyük veya eşit" in html  # Django's own Turkish message for min_value
    assert not Integration.objects.exists() and not AuditEntry.objects.exists()


def test_connection_must_fit_the_services(client_in, store, demo):
    from ocbridge.core.models import Connection

    other = Connection.objects.create(store=store, service="ozon")
    resp = client_in.post(_url(store), {"integration-connection": other.pk, "threshold": "3"})
    assert "connection" in resp.context["base"].errors


def test_failure_inside_save_rolls_everything_back(client_in, store, connection, demo):
    from ocbridge.core.models import AuditEntry, Integration

    client_in.raise_request_exception = False
    resp = client_in.post(_url(store), {"integration-connection": connection.pk, "integration-enabled": "on",
                                        "threshold": "9", "explode": "on"})
    assert resp.status_code == 500
    assert not Integration.objects.exists() and not AuditEntry.objects.exists()


def test_edit_keeps_one_row_and_audits_change(client_in, store, connection, demo):
    from ocbridge.core.models import AuditEntry, Integration

    Integration.objects.create(store=store, kind="demo_feature", connection=connection, settings={"threshold": 2})
    html = client_in.get(_url(store)).content.decode()
    assert 'value="2"' in html
    client_in.post(_url(store), {"integration-connection": connection.pk, "threshold": "4"})
    integ = Integration.objects.get()
    assert integ.settings == {"threshold": 4} and not integ.enabled
    assert AuditEntry.objects.filter(action="demo_feature.settings").count() == 1


def test_every_registered_integration_settings_page_renders(client_in, store, connection):
    """Each installed feature's own form must build for a store whose shop cannot be reached."""
    from ocbridge.core import registry

    assert registry.integrations, "no integration registered"
    for kind in list(registry.integrations):
        resp = client_in.get(reverse("dashboard:integration", args=[store.pk, kind]))
        assert resp.status_code in (200, 302), kind


def test_store_page_links_an_integrations_own_pages(client_in, store, connection, demo):
    from ocbridge.core.models import Integration

    demo.extras["home_url"] = lambda integration: f"/demo/{integration.pk}/"
    integ = Integration.objects.create(store=store, kind="demo_feature", connection=connection)
    html = client_in.get(reverse("dashboard:store", args=[store.pk])).content.decode()
    assert f'href="/demo/{integ.pk}/"' in html
