"""Dashboard, admin and page forgery: every POST without a CSRF token is refused (403) for a logged-in user,
every page and action refuses an anonymous visitor (redirect to login), the admin refuses non-staff users —
and none of them changes a row. URLs are collected from the URL resolver, so a new page is covered by itself."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from ocbridge.core import clock
from testkit import cod_integration

# Not dashboard pages: webhooks authenticate by token/signature (tests above); i18n is Django's own.
# static/: Django's own file server in DEBUG.
SKIP_PREFIXES = ("hooks/", "admin/", "i18n/", "static/")
# The set-password link is public: its token is the credential (tests/forgery/test_store_scoping.py).
PUBLIC = {"login/", "logout/", "assets/<str:name>", "password/set/<uidb64>/<token>/",
          # The customer's pay and address pages and the shop extension's push: signed tokens are their credential
          # (tests/integrations/payments, cod_confirm's customer page, opencart push), no dashboard login.
          "pay/<str:token>/", "pay/<str:token>/return", "pay/<str:token>/card", "pay/<str:token>/card/wait", "pay/<str:token>/again", "pay/checkout/<int:store_pk>/<int:order_id>/<int:ts>/<str:sig>/",
          "a/<str:token>/", "push/<int:store_pk>/<int:order_id>/<int:ts>/<str:sig>/"}
PARAMS = {"pk": "1", "store_pk": "1", "integration_pk": "2", "kind": "cod_confirm", "name": "app.css",
          "order_id": "7001", "binding_pk": "1", "phone": "+905321234567", "local_id": "1"}


def routes(patterns=None, prefix: str = "") -> list[str]:
    """Every route of the project as a pattern string, e.g. 'confirmations/<int:pk>/act/'."""
    out = []
    for p in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(p, URLResolver):
            out += routes(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            out.append(prefix + str(p.pattern))
    return out


def fill(route: str) -> str:
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: PARAMS[m.group(1)], route).lstrip("^").rstrip("$")


PAGES = sorted({r for r in routes() if not r.startswith(SKIP_PREFIXES) and r not in PUBLIC})
PAGE_IDS = [r or "home" for r in PAGES]


@pytest.fixture
def world(db, sqlite_shop):
    """One of everything a dashboard action could change, all with primary key 1 (ozon integration: 2)."""
    from ocbridge.core.models import Connection, Exchange, Integration, Job, Store
    from ocbridge.integrations.cod_confirm.config import CodConfirmConfig
    from ocbridge.integrations.cod_confirm.models import Confirmation

    shop = sqlite_shop()
    store = Store.objects.create(pk=1, name="Original name", db_url=shop.url, table_prefix="oc_")
    conn = Connection.objects.create(pk=1, store=store, service="sandbox", base_url="http://127.0.0.1:9",
                                     secret={"token": "t", "webhook_secret": "w"})
    ozon_conn = Connection.objects.create(pk=2, store=store, service="ozon", base_url="http://127.0.0.1:9",
                                          secret={"client_id": "1", "api_key": "k"})
    integration = cod_integration(store, conn, pk=1, settings=CodConfirmConfig().to_settings())
    Integration.objects.create(pk=2, store=store, kind="ozon", connection=ozon_conn, settings={})
    Confirmation.objects.create(pk=1, store=store, integration=integration, order_id=7001, order_label="7001",
                                phone="+905321234567", status_at_start=1, state="needs_person", created=clock.now())
    Job.objects.create(pk=1, kind="opencart.poll_shop", key="forgery:job:1", store=store, state="failed")
    Exchange.objects.create(pk=1, service="sandbox", direction="in", store=store)
    # Rows made with explicit ids: on PostgreSQL the id sequences must move past them (SQLite needs nothing).
    from django.core.management.color import no_style
    from django.db import connection

    with connection.cursor() as cur:
        for sql in connection.ops.sequence_reset_sql(no_style(), [Store, Connection, Integration, Confirmation, Job,
                                                                  Exchange]):
            cur.execute(sql)


def snapshot() -> dict:
    """Every row a dashboard action may write, as comparable values."""
    from ocbridge.core.models import AuditEntry, Connection, Exchange, Integration, Job, Store
    from ocbridge.integrations.cod_confirm.models import Attempt, Confirmation, Transition

    return {
        "stores": list(Store.objects.values_list("pk", "name", "enabled", "api_url")),
        "connections": list(Connection.objects.values_list("pk", "name", "base_url", "enabled", "ip_allowlist")),
        "integrations": list(Integration.objects.values_list("pk", "kind", "enabled", "settings")),
        "jobs": list(Job.objects.values_list("pk", "state", "next_run_at", "max_attempts")),
        "confirmations": list(Confirmation.objects.values_list("pk", "state", "decided_by")),
        "attempts": Attempt.objects.count(), "transitions": Transition.objects.count(),
        "audit": AuditEntry.objects.count(), "exchanges": Exchange.objects.count(),
    }


POST_DATA = {"action": "confirm", "reason": "forged", "name": "Forged name", "enabled": "on", "full": "1",
             "integration-enabled": "on"}


@pytest.fixture
def staff(db):
    from django.contrib.auth.models import User

    return User.objects.create_user("owner", password="pw-owner-123", is_staff=True, is_superuser=True)


@pytest.mark.parametrize("route", PAGES, ids=PAGE_IDS)
def test_post_without_csrf_token_is_403_and_changes_nothing(world, staff, route):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)
    before = snapshot()
    resp = client.post(fill(route), data=POST_DATA)
    assert resp.status_code == 403, (route, resp.status_code)
    assert b"CSRF" in resp.content
    assert snapshot() == before


@pytest.mark.parametrize("route", PAGES, ids=PAGE_IDS)
def test_post_with_a_wrong_csrf_token_is_403(world, staff, route):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)
    client.get("/login/")  # sets the csrftoken cookie
    before = snapshot()
    resp = client.post(fill(route), data={**POST_DATA, "csrfmiddlewaretoken": "x" * 64})
    assert resp.status_code == 403 and snapshot() == before


def test_the_csrf_check_is_what_refuses(world, staff):
    """Control: with the token, the same forged-looking POST gets through to the view (here: a manual confirm)."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)
    client.get("/confirmations/1/")
    token = client.cookies["csrftoken"].value
    resp = client.post("/confirmations/1/act/", data={"action": "confirm", "reason": "phoned the customer",
                                                       "csrfmiddlewaretoken": token})
    assert resp.status_code == 302
    from ocbridge.integrations.cod_confirm.models import Confirmation

    assert Confirmation.objects.get(pk=1).state == "confirmed"


def test_login_and_language_posts_need_the_csrf_token_too(world, staff):
    client = Client(enforce_csrf_checks=True)
    assert client.post("/login/", {"username": "owner", "password": "pw-owner-123"}).status_code == 403
    assert "_auth_user_id" not in client.session
    assert client.post("/i18n/setlang/", {"language": "tr"}).status_code == 403


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("route", PAGES, ids=PAGE_IDS)
def test_anonymous_is_sent_to_login_and_changes_nothing(world, route, method):
    before = snapshot()
    resp = getattr(Client(), method)(fill(route), data=POST_DATA if method == "post" else None)
    assert resp.status_code == 302 and resp["Location"].startswith("/login/"), (route, resp.status_code)
    assert snapshot() == before


ADMIN_URLS = ["/admin/", "/admin/core/store/", "/admin/core/store/1/change/", "/admin/core/connection/1/change/",
              "/admin/core/job/", "/admin/core/exchange/", "/admin/cod_confirm/confirmation/",
              "/admin/auth/user/", "/admin/core/store/add/"]


@pytest.mark.parametrize("url", ADMIN_URLS)
@pytest.mark.parametrize("who", ["anonymous", "non-staff", "staff"])
def test_admin_refuses_anonymous_and_non_staff(world, url, who):
    """Staff without superuser rights are refused too: the admin shows every store unscoped."""
    from django.contrib.auth.models import User

    client = Client()
    if who != "anonymous":
        client.force_login(User.objects.create_user("clerk", password="pw-clerk-123", is_staff=who == "staff"))
    before = snapshot()
    get = client.get(url)
    post = client.post(url, {"name": "Forged", "_save": "Save"})
    for resp in (get, post):
        assert resp.status_code == 302 and resp["Location"].startswith("/admin/login/"), (url, resp.status_code)
    assert snapshot() == before


def test_admin_post_without_csrf_token_is_403_for_staff(world, staff):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)
    before = snapshot()
    resp = client.post("/admin/core/store/1/change/", {"name": "Forged", "_save": "Save"})
    assert resp.status_code == 403 and snapshot() == before


def test_every_dashboard_page_is_covered():
    """Guards the collection above: the actions we know of are in it."""
    for route in ("confirmations/<int:pk>/act/", "jobs/<int:pk>/retry/", "jobs/probe/", "stores/<int:pk>/test/",
                  "connections/<int:pk>/test/", "stores/<int:store_pk>/integrations/<slug:kind>/", "stores/add/",
                  "order-lookup/calls/", "ozon/<int:integration_pk>/sync/", "despatch/<int:integration_pk>/stock/sync/",
                  "onebox/<int:integration_pk>/dismiss/<str:kind>/<str:local_id>/",
                  "log/export.csv"):
        assert route in PAGES
