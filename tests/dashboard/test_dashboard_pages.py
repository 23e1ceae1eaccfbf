"""Every dashboard page: login required, renders with an empty database, renders with data."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

LIST_PAGES = ["dashboard:home", "dashboard:stores", "dashboard:store-add", "dashboard:exchanges", "dashboard:jobs",
              "dashboard:confirmations", "dashboard:exchanges-csv"]


def _all_dashboard_urls(store, connection, job, exchange):
    return [reverse(n) for n in LIST_PAGES] + [
        reverse("dashboard:store", args=[store.pk]), reverse("dashboard:store-edit", args=[store.pk]),
        reverse("dashboard:connection-add", args=[store.pk]), reverse("dashboard:connection-edit", args=[connection.pk]),
        reverse("dashboard:job", args=[job.pk]), reverse("dashboard:exchange", args=[exchange.pk]),
    ]


@pytest.fixture
def job(store):
    from ocbridge.core.models import Job

    return Job.objects.create(kind="core.probe", key="t:1", store=store, state="failed", last_error="boom")


@pytest.fixture
def exchange(store, connection, job):
    from ocbridge.core.models import Exchange

    return Exchange.objects.create(service="verimor", store=store, connection=connection, job=job, method="POST",
                                   url="https://api.example.com/ivr", request_body='{"a": 1}', status=200)


@pytest.mark.parametrize("name", LIST_PAGES)
def test_anonymous_list_page_redirects_to_login(client, name):
    resp = client.get(reverse(name))
    assert resp.status_code == 302
    assert resp["Location"].startswith(reverse("dashboard:login"))


def test_anonymous_detail_and_action_pages_redirect_to_login(client, store, connection, job, exchange):
    urls = _all_dashboard_urls(store, connection, job, exchange) + [
        reverse("dashboard:store-test", args=[store.pk]), reverse("dashboard:connection-test", args=[connection.pk]),
        reverse("dashboard:job-retry", args=[job.pk]), reverse("dashboard:worker-probe"),
        reverse("dashboard:integration", args=[store.pk, "cod_confirm"]), reverse("dashboard:confirmation", args=[1]),
        reverse("dashboard:confirmation-act", args=[1]), reverse("dashboard:confirmation-phone", args=[1]),
        reverse("dashboard:confirmations-bulk"), reverse("dashboard:whatsapp-templates", args=[connection.pk]),
        reverse("dashboard:members", args=[store.pk]), reverse("dashboard:member-remove", args=[store.pk, 1]),
        reverse("dashboard:member-link", args=[store.pk, 1]),
        reverse("dashboard:optouts", args=[store.pk]), reverse("dashboard:optouts-hub"),
        reverse("dashboard:optout-remove", args=[1]), reverse("dashboard:mail-test", args=[store.pk]),
        reverse("dashboard:phone", args=["905321234567"]), reverse("dashboard:alerts"),
        reverse("dashboard:alert-remove", args=[1]), reverse("dashboard:alert-test", args=[1]),
        reverse("dashboard:spending", args=[store.pk]), reverse("dashboard:personal-data", args=[store.pk]),
        reverse("dashboard:two-factor"), reverse("dashboard:two-factor-verify"), reverse("dashboard:store-import"),
        reverse("payments:list"), reverse("payments:detail", args=[1]), reverse("payments:order", args=[store.pk, 1])]
    for url in urls:
        for method in (client.get, client.post):
            resp = method(url)
            assert resp.status_code == 302, url
            assert resp["Location"].startswith(reverse("dashboard:login")), url


def test_every_dashboard_url_is_covered_by_login_tests():
    """A new page must be added to the login tests above (or be one of the public ones)."""
    from ocbridge.dashboard import urls

    public = {"login", "logout", "asset", "password-set"}
    names = {p.name for p in urls.urlpatterns} - public
    covered = {n.split(":")[1] for n in LIST_PAGES} | {
        "store", "store-edit", "connection-add", "connection-edit", "job", "exchange", "store-test",
        "connection-test", "job-retry", "worker-probe", "integration", "confirmation", "confirmation-act", "integration-test",
        "confirmation-phone", "confirmations-bulk", "whatsapp-templates", "members", "member-remove", "member-link",
        "optouts", "optouts-hub", "optout-remove", "mail-test", "phone", "alerts", "alert-remove", "alert-test",
        "spending", "personal-data", "two-factor", "two-factor-verify", "store-import"}
    assert names <= covered, names - covered


@pytest.mark.parametrize("name", LIST_PAGES)
def test_page_renders_with_empty_database(client_in, name):
    resp = client_in.get(reverse(name))
    assert resp.status_code == 200


def test_pages_render_with_data(client_in, store, connection, job, exchange):
    for url in _all_dashboard_urls(store, connection, job, exchange):
        resp = client_in.get(url)
        assert resp.status_code == 200, url


def test_login_page_is_public_and_logs_in(client, user):
    assert client.get(reverse("dashboard:login")).status_code == 200
    resp = client.post(reverse("dashboard:login"), {"username": "owner", "password": "pw-owner-123"})
    assert resp.status_code == 302
    assert client.get(reverse("dashboard:home")).status_code == 200


def test_logout_needs_post(client_in):
    assert client_in.get(reverse("dashboard:logout")).status_code == 405
    assert client_in.post(reverse("dashboard:logout")).status_code == 302
    assert client_in.get(reverse("dashboard:home")).status_code == 302


def test_assets_are_served_without_login(client):
    css = client.get(reverse("dashboard:asset", args=["app.css"]))
    assert css.status_code == 200 and css["Content-Type"].startswith("text/css")
    assert client.get(reverse("dashboard:asset", args=["settings.py"])).status_code == 404


def test_unknown_objects_are_404(client_in):
    for name in ("dashboard:store", "dashboard:job", "dashboard:exchange", "dashboard:connection-edit"):
        assert client_in.get(reverse(name, args=[999999])).status_code == 404


def test_base_layout_has_nav_language_switcher_and_logout_form(client_in):
    html = client_in.get(reverse("dashboard:home")).content.decode()
    for name in ("dashboard:stores", "dashboard:exchanges", "dashboard:jobs", "dashboard:confirmations", "set_language"):
        assert f'href="{reverse(name)}"' in html or f'action="{reverse(name)}"' in html, name
    assert f'<form action="{reverse("dashboard:logout")}" method="post"' in html
    assert 'value="tr"' in html and 'value="ru"' in html


def test_admin_styles_are_served_without_debug(client, settings):
    """`serve --production` runs without DEBUG: the admin's CSS must still come (it opened unstyled)."""
    settings.DEBUG = False
    resp = client.get("/static/admin/css/base.css")
    assert resp.status_code == 200 and resp["Content-Type"].startswith("text/css")
    assert b"".join(resp.streaming_content)
    assert client.get("/static/../settings.py").status_code == 404
    assert client.get("/static/admin/css/nope.css").status_code == 404
