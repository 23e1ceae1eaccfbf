"""Per-store access: a user of store A tries every URL of store B — lists, details, exports, searches, charts,
actions, admin. Each answers 404 or 403 (or shows A's rows only), nothing of B changes, and nothing of B shows
up in names, counts or charts. Roles inside A: a viewer only reads, an operator acts on orders, an owner edits."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db
MARK = "ZZB-secret-marker"  # every text of store B carries it: it must never reach a user of A


@pytest.fixture(autouse=True)
def _fast_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _store_with_data(name: str, mark: str, n: int):
    from ocbridge.core import clock
    from ocbridge.core.models import AuditEntry, Binding, Connection, Exchange, Integration, Job, OptOut, Store
    from ocbridge.integrations.cod_confirm.models import Attempt, Confirmation
    from ocbridge.integrations.despatch import models as dc_models
    from ocbridge.integrations.onebox import models as ob_models
    from ocbridge.integrations.order_lookup.models import LookupCall
    from ocbridge.integrations.ozon import models as ozon_models

    store = Store.objects.create(name=f"Store {name} {mark}", db_url=f"sqlite:////nonexistent/{name}.db",
                                 timezone="Europe/Istanbul")
    sandbox = Connection.objects.create(store=store, service="sandbox", name=f"SB {mark}", base_url="http://127.0.0.1:9",
                                        secret={"api_key": f"key-{mark}", "webhook_secret": f"whsec-{mark}"})
    cod = Integration.objects.create(store=store, kind="cod_confirm", connection=sandbox, settings={})
    ozon_conn = Connection.objects.create(store=store, service="ozon", secret={"client_id": "1", "api_key": "k"})
    ozon = Integration.objects.create(store=store, kind="ozon", connection=ozon_conn, settings={})
    dc_conn = Connection.objects.create(store=store, service="despatch", secret={"email": "e", "password": "p"})
    dc = Integration.objects.create(store=store, kind="despatch", connection=dc_conn, settings={})
    lookup = Integration.objects.create(store=store, kind="order_lookup", connection=sandbox, settings={})
    ob_conn = Connection.objects.create(store=store, service="onebox", secret={"login": "l", "password": "p"})
    ob = Integration.objects.create(store=store, kind="onebox", connection=ob_conn, settings={})
    now = clock.now()
    orders = []
    for i, state in enumerate(("needs_person", "confirmed", "cancelled")):
        c = Confirmation.objects.create(store=store, integration=cod, order_id=n * 100 + i, order_label=f"{n}{i}",
                                        customer_name=f"Customer {mark}", phone=f"+90532{n}00000{i}",
                                        status_at_start=1, state=state, created=now - dt.timedelta(hours=i + 1),
                                        decided_at=now if state != "needs_person" else None)
        Attempt.objects.create(confirmation=c, store=store, number=1, channel="call", service="sandbox",
                               key=f"k:{mark}:{i}", state="answered", created=now - dt.timedelta(hours=i + 1))
        orders.append(c)
    job = Job.objects.create(kind="cod_confirm.call", key=f"job:{mark}", store=store, integration=cod, state="failed",
                             last_error=f"error {mark}")
    ex = Exchange.objects.create(service="sandbox", store=store, connection=sandbox, job=job, order_id=n * 100,
                                 url=f"https://sandbox.example/{mark}", request_body=f"body {mark}", status=500,
                                 level="error", purpose="call")
    AuditEntry.objects.create(user="someone", action="store.update", store=store, reason=f"why {mark}")
    wa_conn = Connection.objects.create(store=store, service="whatsapp", name=f"WA {mark}",
                                        secret={"access_token": f"tok-{mark}"})
    # the kinds the pages list (so B's owner does see these rows: the control test proves it)
    Binding.objects.create(connection=ozon_conn, kind=ozon_models.PRODUCT, local_id="1", external_id=f"oz-{mark}",
                           data={"status": "failed", "name": mark})
    posting = Binding.objects.create(connection=ozon_conn, kind=ozon_models.POSTING, local_id=str(n * 100),
                                     external_id=f"post-{mark}", data={"status": "awaiting_packaging"})
    Binding.objects.create(connection=dc_conn, kind=dc_models.ORDER, local_id=str(n * 100), external_id=f"dc-{mark}",
                           data={"state": dc_models.OrderState.REFUSED, "error": mark})
    Binding.objects.create(connection=ob_conn, kind=ob_models.ORDER, local_id=str(n * 100), external_id=f"ob-{mark}",
                           data={"state": ob_models.FAILED, "error": mark})
    Binding.objects.create(connection=ob_conn, kind=ob_models.ORDER, local_id=str(n * 100 + 1),  # Dismiss's target
                           external_id=f"ob-gone-{mark}", data={"state": ob_models.DELETED, "error": mark})
    LookupCall.objects.create(store=store, integration=lookup, service="sandbox", call_id=f"call-{mark}",
                              caller=f"+90532{n}999999", caller_raw=mark,
                              outcome="answered")
    optout = OptOut.objects.create(store=store, phone=f"+90532{n}888888", note=f"asked {mark}")
    from ocbridge.integrations.payments.models import Payment

    aps_conn = Connection.objects.create(store=store, service="aps", secret={
        "merchant_identifier": "m", "access_code": "a", "sha_request_phrase": "p", "sha_response_phrase": "r"})
    aps = Integration.objects.create(store=store, kind="aps", connection=aps_conn, settings={})
    payment = Payment.objects.create(store=store, integration=aps, gateway="aps", order_id=n * 100,
                                     reference=f"{n}00000000001", key=f"pay:{mark}", amount_minor=2000, currency="AED",
                                     state="paid", captured_minor=2000, gateway_message=f"msg {mark}",
                                     expires_at=now + dt.timedelta(hours=48))
    return {"optout": optout, "aps": aps, "payment": payment, "store": store, "sandbox": sandbox, "cod": cod, "ozon": ozon, "dc": dc, "orders": orders, "job": job,
            "exchange": ex, "whatsapp": wa_conn, "posting": posting, "dc_order": n * 100,
            "ob": ob}


@pytest.fixture
def hub():
    from django.contrib.auth.models import User

    from ocbridge.core.models import StoreMember

    a = _store_with_data("A", "AAA-own-marker", 1)
    b = _store_with_data("B", MARK, 2)
    users = {}
    for role in ("owner", "operator", "viewer"):
        users[role] = User.objects.create_user(f"a-{role}", password="pw")
        StoreMember.objects.create(store=a["store"], user=users[role], role=role)
    users["b-owner"] = User.objects.create_user("b-owner", password="pw")
    StoreMember.objects.create(store=b["store"], user=users["b-owner"], role="owner")
    users["admin"] = User.objects.create_superuser("root", password="pw")
    from ocbridge.core.models import AlertRoute

    b["alert_route"] = AlertRoute.objects.create(user=users["b-owner"], store=b["store"], channel="email",
                                                 target=f"{MARK}@example.com")
    return a, b, users


def _client(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def _b_urls(b) -> list[tuple[str, str, dict]]:
    """Every page and action that names an object of store B (method, URL, POST data)."""
    s, conn, c, job, ex = b["store"].pk, b["sandbox"].pk, b["orders"][0].pk, b["job"].pk, b["exchange"].pk
    member = b["store"].members.get().pk
    reason = {"reason": "forged"}
    urls = [
        ("get", reverse("dashboard:store", args=[s]), {}),
        ("get", reverse("dashboard:store-edit", args=[s]), {}),
        ("post", reverse("dashboard:store-edit", args=[s]), {"name": "hijacked", "db_host": "evil.example",
                                                              "db_port": 3306, "db_name": "x", "db_charset": "utf8mb4"}),
        ("post", reverse("dashboard:store-test", args=[s]), {}),
        ("get", reverse("dashboard:connection-add", args=[s]), {}),
        ("post", reverse("dashboard:connection-add", args=[s]), {"service": "sandbox", "name": "mine"}),
        ("get", reverse("dashboard:connection-edit", args=[conn]), {}),
        ("post", reverse("dashboard:connection-edit", args=[conn]), {"service": "sandbox", "base_url": "https://evil.example"}),
        ("post", reverse("dashboard:connection-test", args=[conn]), {}),
        ("get", reverse("dashboard:whatsapp-templates", args=[b["whatsapp"].pk]), {}),
        ("post", reverse("dashboard:whatsapp-templates", args=[b["whatsapp"].pk]), {"action": "refresh"}),
        ("get", reverse("dashboard:members", args=[s]), {}),
        ("post", reverse("dashboard:members", args=[s]), {"username": "intruder", "role": "owner"}),
        ("post", reverse("dashboard:member-remove", args=[s, member]), {}),
        ("post", reverse("dashboard:member-link", args=[s, member]), {}),
        ("get", reverse("dashboard:optouts", args=[s]), {}),
        ("post", reverse("dashboard:optouts", args=[s]), {"phone": "+905320000001", "scope": "all", "note": "forged"}),
        ("post", reverse("dashboard:optout-remove", args=[b["optout"].pk]), reason),
        ("post", reverse("dashboard:mail-test", args=[s]), {"to": "intruder@example.com"}),
        ("get", reverse("dashboard:personal-data", args=[s]), {}),
        ("post", reverse("dashboard:personal-data", args=[s]), {"phone": b["orders"][0].phone, "action": "export"}),
        ("post", reverse("dashboard:personal-data", args=[s]), {"phone": b["orders"][0].phone, "action": "erase",
                                                               "confirm": "on"}),
        ("get", reverse("dashboard:spending", args=[s]), {}),
        ("post", reverse("dashboard:spending", args=[s]), {"sms_cap": "0", "price_lines": "netgsm sms 9"}),
        ("post", reverse("dashboard:alert-remove", args=[b["alert_route"].pk]), {}),
        ("post", reverse("dashboard:alert-test", args=[b["alert_route"].pk]), {}),
        ("get", reverse("dashboard:exchange", args=[ex]), {}),
        ("get", reverse("dashboard:job", args=[job]), {}),
        ("post", reverse("dashboard:job-retry", args=[job]), reason),
        ("get", reverse("dashboard:confirmation", args=[c]), {}),
        ("post", reverse("dashboard:confirmation-act", args=[c]), {"action": "confirm", **reason}),
        ("post", reverse("dashboard:confirmation-phone", args=[c]), {"phone": "+905320000000", **reason}),
        ("get", reverse("dashboard:phone", args=[b["orders"][0].phone.lstrip("+")]), {}),
        ("get", reverse("ozon:overview", args=[b["ozon"].pk]), {}),
        ("get", reverse("ozon:products", args=[b["ozon"].pk]), {}),
        ("get", reverse("ozon:orders", args=[b["ozon"].pk]), {}),
        ("post", reverse("ozon:tracking", args=[b["ozon"].pk, b["posting"].pk]), {"tracking_number": "FORGED1"}),
        ("get", reverse("ozon:mapping", args=[b["ozon"].pk]), {}),
        ("post", reverse("ozon:mapping", args=[b["ozon"].pk]), {"action": "refresh"}),
        ("post", reverse("ozon:sync", args=[b["ozon"].pk]), {}),
        ("post", reverse("ozon:test", args=[b["ozon"].pk]), {}),
        ("get", reverse("despatch:overview", args=[b["dc"].pk]), {}),
        ("post", reverse("despatch:retry", args=[b["dc"].pk, b["dc_order"]]), {}),
        ("post", reverse("despatch:stock-sync", args=[b["dc"].pk]), {}),
        ("post", reverse("despatch:test", args=[b["dc"].pk]), {}),
        ("get", reverse("payments:detail", args=[b["payment"].pk]), {}),
        ("get", reverse("payments:order", args=[s, b["payment"].order_id]), {}),
        ("post", reverse("payments:link", args=[s]),
         {"gateway": "aps", "order_id": str(b["payment"].order_id), "attempt": "2", "mail": "1", "back": "order"}),
        ("post", reverse("payments:operate", args=[b["payment"].pk]),
         {"operation": "refund", "amount": "1", "sequence": "1", **reason}),
        ("post", reverse("payments:check", args=[b["payment"].pk]), {}),
        ("post", reverse("payments:link", args=[s]), {"gateway": "aps", "order_id": "1"}),
        ("post", reverse("payments:test", args=[b["aps"].pk]), {}),
        ("get", reverse("payments:extension", args=[s]), {}),
        ("post", reverse("payments:extension", args=[s]), {}),
        ("get", reverse("onebox:overview", args=[b["ob"].pk]), {}),
        ("post", reverse("onebox:retry", args=[b["ob"].pk, "onebox.order", b["dc_order"]]), {}),
        ("post", reverse("onebox:dismiss", args=[b["ob"].pk, "onebox.order", b["dc_order"] + 1]), {}),
        ("post", reverse("onebox:load", args=[b["ob"].pk, "order"]), {}),
        ("post", reverse("onebox:test", args=[b["ob"].pk]), {}),
        ("get", reverse("admin:index"), {}),
        ("get", reverse("admin:core_store_change", args=[s]), {}),
    ]
    for kind in ("cod_confirm", "order_lookup", "ozon", "despatch", "aps", "onebox"):
        urls.append(("get", reverse("dashboard:integration", args=[s, kind]), {}))
        urls.append(("post", reverse("dashboard:integration", args=[s, kind]), {"integration-enabled": ""}))
    urls.append(("post", reverse("dashboard:integration-test", args=[s, "cod_confirm"]),
                 {"test-phone": "+905321112233", "test-channel": "sms"}))
    return urls


def _snapshot(b) -> dict:
    """Everything of store B an action could change."""
    from ocbridge.core.models import AuditEntry, Binding, Connection, Integration, Job, OptOut, Store, StoreMember
    from ocbridge.integrations.cod_confirm.models import Confirmation

    store = Store.objects.get(pk=b["store"].pk)
    return {
        "bindings": sorted((pk, kind, sorted(data.items())) for pk, kind, data in
                           Binding.objects.filter(connection__store=store).values_list("pk", "kind", "data")),
        "store": (store.name, store.db_host, store.db_name, store.enabled, store.secret.get("extension_secret")),
        "connections": sorted(Connection.objects.filter(store=store).values_list("pk", "base_url", "name", "enabled")),
        "integrations": sorted(Integration.objects.filter(store=store).values_list("pk", "enabled", "connection_id")),
        "confirmations": sorted(Confirmation.objects.filter(store=store).values_list("pk", "state", "phone")),
        "jobs": sorted(Job.objects.filter(store=store).values_list("pk", "state", "next_run_at")),
        "job_count": Job.objects.count(),
        "members": sorted(StoreMember.objects.filter(store=store).values_list("user_id", "role")),
        "audit": AuditEntry.objects.filter(store=store).count(),
        "optouts": sorted(OptOut.objects.filter(store=store).values_list("pk", "phone", "scope", "note")),
        "hub_optouts": OptOut.objects.filter(store__isnull=True).count(),
        "payments": sorted(__import__("ocbridge.integrations.payments.models").integrations.payments.models.Payment
                           .objects.filter(store=store).values_list("pk", "state", "refunded_minor")),
        "payment_ops": __import__("ocbridge.integrations.payments.models").integrations.payments.models
                       .PaymentOperation.objects.count(),
        "spend": list(__import__("ocbridge.core.models").core.models.SpendPolicy.objects.filter(store=store)
                      .values_list("sms_cap", "prices")),
        "alert_routes": sorted(__import__("ocbridge.core.models").core.models.AlertRoute.objects.values_list(
            "pk", "user_id", "store_id", "channel", "target", "enabled")),
        "users": sorted(__import__("django.contrib.auth").contrib.auth.get_user_model().objects.values_list(
            "username", "password")),
    }


@pytest.mark.parametrize("role", ["owner", "operator", "viewer"])
def test_every_url_of_store_b_is_404_or_403_for_a_user_of_store_a(hub, role):
    a, b, users = hub
    client = _client(users[role])
    before = _snapshot(b)
    for method, url, data in _b_urls(b):
        resp = getattr(client, method)(url, data)
        if url.startswith("/admin/"):
            assert resp.status_code in (302, 403, 404), url  # the admin is for superusers: back to its login
            assert resp.status_code != 302 or "login" in resp["Location"], url
        else:
            assert resp.status_code in (403, 404), (method, url, resp.status_code)
        assert MARK.encode() not in resp.content, (method, url)
    assert _snapshot(b) == before


def test_the_control_superuser_and_b_owner_do_reach_store_b(hub):
    """The same URLs answer for those allowed: the 404s above come from scoping, not from broken URLs."""
    a, b, users = hub
    for who in ("admin", "b-owner"):
        client = _client(users[who])
        for method, url, _data in _b_urls(b):
            if method == "get" and not (url.startswith("/admin/") and who != "admin"):
                assert client.get(url).status_code == 200, (who, url)
    html = _client(users["b-owner"]).get(reverse("dashboard:exchanges")).content.decode()
    assert MARK in html
    for page in (reverse("despatch:overview", args=[b["dc"].pk]), reverse("ozon:products", args=[b["ozon"].pk]),
                 reverse("onebox:overview", args=[b["ob"].pk])):
        assert MARK in _client(users["b-owner"]).get(page).content.decode(), page  # B's rows are on B's pages


# URLs that name no object of a store: lists (scoped, LIST_PAGES), public pages, hub-wide tools for superusers
# (those answer 403 to store users: test_roles_inside_store_a)
NO_STORE_OBJECT = {"dashboard:login", "dashboard:logout", "dashboard:asset", "dashboard:password-set",
                   "dashboard:store-add", "dashboard:store-import", "dashboard:worker-probe", "dashboard:optouts-hub", "dashboard:confirmations-bulk", "static",
                   "dashboard:alerts",  # the user's own routes; a forged store: test_alert_routes_only_for_own_stores
                   "webhook", "set_language",
                   "dashboard:two-factor", "dashboard:two-factor-verify",  # the user's own login (test_two_factor)
                   "pay", "pay-return", "pay-card", "pay-card-wait", "pay-retry", "pay-checkout",  # the customer's pay pages: public, the signed token is the key
                   "cod-address",  # the customer's address page: the same
                   "opencart-push"}  # the extension's order-event push: signed by the store's extension secret


def _url_names(patterns, prefix="") -> set[str]:
    from django.urls import URLResolver

    names = set()
    for p in patterns:
        if isinstance(p, URLResolver):
            if p.namespace != "admin":  # the admin is for superusers: its index and a change page are tried above
                names |= _url_names(p.url_patterns, f"{prefix}{p.namespace}:" if p.namespace else prefix)
        elif p.name:
            names.add(prefix + p.name)
    return names


def test_every_url_of_the_project_is_tried_across_stores(hub):
    """A new page or action must be added to _b_urls (or LIST_PAGES): this fails until it is."""
    from django.urls import get_resolver, resolve

    _a, b, _users = hub
    tried = {resolve(url.split("?")[0]).view_name for _m, url, _d in _b_urls(b)} | {n for n, _p in LIST_PAGES}
    missing = _url_names(get_resolver().url_patterns) - tried - NO_STORE_OBJECT
    assert not missing, missing


def test_bulk_actions_on_store_b_orders_change_nothing(hub):
    a, b, users = hub
    before = _snapshot(b)
    ids = [c.pk for c in b["orders"]]
    for action in ("confirm", "cancel", "call"):
        _client(users["operator"]).post(reverse("dashboard:confirmations-bulk"),
                                        {"action": action, "reason": "forged", "ids": ids})
    assert _snapshot(b) == before


LIST_PAGES = [
    ("dashboard:home", {}), ("dashboard:home", {"days": "90"}), ("dashboard:stores", {}),
    ("dashboard:exchanges", {}), ("dashboard:exchanges", {"q": "body"}), ("dashboard:exchanges-csv", {}),
    ("dashboard:jobs", {}), ("dashboard:jobs", {"state": "failed"}), ("dashboard:confirmations", {}),
    ("dashboard:confirmations", {"q": "Customer"}), ("dashboard:confirmations", {"state": "needs_person"}),
    ("order_lookup:calls", {}), ("payments:list", {}), ("payments:list", {"state": "paid"}),
]


@pytest.mark.parametrize("name, params", LIST_PAGES)
def test_lists_exports_searches_and_charts_show_only_store_a(hub, name, params):
    a, b, users = hub
    client = _client(users["viewer"])
    for extra in ({}, {"store": str(b["store"].pk)}):  # filtering by B's id shows nothing of B either
        resp = client.get(reverse(name), {**params, **extra})
        body = b"".join(resp.streaming_content) if resp.streaming else resp.content
        assert resp.status_code in (200, 404), (name, extra)
        assert MARK.encode() not in body, (name, extra)
    resp = client.get(reverse(name), params)
    body = b"".join(resp.streaming_content) if resp.streaming else resp.content
    if name in ("dashboard:exchanges", "dashboard:exchanges-csv", "dashboard:stores"):
        assert b"AAA-own-marker" in body  # A's own rows are there: the page is not simply empty


def test_overview_counts_and_charts_are_store_a_only(hub):
    """Each store has 3 confirmations (1 confirmed, 1 cancelled, 1 waiting): A's user sees 3, never 6."""
    a, b, users = hub
    client = _client(users["viewer"])
    resp = client.get(reverse("dashboard:home"))
    assert resp.status_code == 200
    assert resp.context["store"] == a["store"] and list(resp.context["stores"]) == [a["store"]]
    admin = _client(users["admin"]).get(reverse("dashboard:home"), {"store": ""})
    assert admin.context["store"] is None and len(admin.context["stores"]) == 2


def test_roles_inside_store_a(hub):
    a, _b, users = hub
    c = a["orders"][0]
    viewer, operator, owner = (_client(users[r]) for r in ("viewer", "operator", "owner"))
    act = reverse("dashboard:confirmation-act", args=[c.pk])
    assert viewer.post(act, {"action": "confirm", "reason": "x"}).status_code == 403
    assert viewer.post(reverse("dashboard:job-retry", args=[a["job"].pk]), {"reason": "x"}).status_code == 403
    assert operator.get(reverse("dashboard:store-edit", args=[a["store"].pk])).status_code == 403
    assert operator.post(reverse("dashboard:connection-test", args=[a["sandbox"].pk])).status_code == 403
    assert operator.get(reverse("dashboard:members", args=[a["store"].pk])).status_code == 403
    assert operator.post(act, {"action": "confirm", "reason": "checked by phone"}).status_code == 302
    c.refresh_from_db()
    assert c.state != "needs_person"
    assert owner.get(reverse("dashboard:store-edit", args=[a["store"].pk])).status_code == 200
    assert viewer.get(reverse("dashboard:store-add")).status_code == 403  # new stores: hub administrators
    assert owner.get(reverse("dashboard:optouts-hub")).status_code == 403  # the hub-wide list: administrators
    assert owner.get(reverse("dashboard:store-import")).status_code == 403  # adding stores: administrators
    assert owner.post(reverse("dashboard:store-import"), {}).status_code == 403
    assert owner.post(reverse("dashboard:optouts-hub"), {"phone": "+905320000002", "scope": "all"}).status_code == 403


def test_despatch_roles_inside_store_a(hub):
    """Viewers read the fulfilment list, operators retry a refused order or sync stock now, only owners test the
    connection."""
    from ocbridge.core.models import Binding, Job
    from ocbridge.integrations.despatch import models as dc

    a, _b, users = hub
    viewer, operator = _client(users["viewer"]), _client(users["operator"])
    page = reverse("despatch:overview", args=[a["dc"].pk])
    retry = reverse("despatch:retry", args=[a["dc"].pk, a["dc_order"]])
    shown = viewer.get(page)
    assert shown.status_code == 200 and "AAA-own-marker" in shown.content.decode()
    assert retry not in shown.content.decode()  # no button the viewer could not use
    jobs = Job.objects.count()
    assert viewer.post(retry).status_code == 403
    assert viewer.post(reverse("despatch:stock-sync", args=[a["dc"].pk])).status_code == 403
    assert operator.post(reverse("despatch:test", args=[a["dc"].pk])).status_code == 403
    assert Job.objects.count() == jobs
    assert retry in operator.get(page).content.decode()
    assert operator.post(retry).status_code == 302
    job = Job.objects.get(kind__startswith="despatch", integration=a["dc"])
    assert job.payload == {"order_id": a["dc_order"]}
    b = Binding.objects.get(connection=a["dc"].connection, kind=dc.ORDER)
    assert b.data["state"] == dc.OrderState.CREATING


def test_owner_adds_a_user_with_a_one_time_link_and_removes_them(hub):
    from django.contrib.auth.models import User

    from ocbridge.core.models import AuditEntry, StoreMember

    a, b, users = hub
    owner = _client(users["owner"])
    url = reverse("dashboard:members", args=[a["store"].pk])
    resp = owner.post(url, {"username": "courier-desk", "role": "operator"})
    assert resp.status_code == 200
    link = resp.context["link"][1]
    new = User.objects.get(username="courier-desk")
    assert not new.has_usable_password() and StoreMember.objects.get(user=new).role == "operator"
    path = link.split("testserver", 1)[1]
    anon = Client()
    form_page = anon.get(path, follow=True)
    assert form_page.status_code == 200 and "new_password1" in form_page.content.decode()
    done = anon.post(form_page.redirect_chain[-1][0], {"new_password1": "Kargo-2026-strong!", "new_password2": "Kargo-2026-strong!"})
    assert done.status_code == 302
    assert Client().login(username="courier-desk", password="Kargo-2026-strong!")
    again = Client().get(path, follow=True)  # used once: the same link no longer sets a password
    assert "new_password1" not in again.content.decode()
    member = StoreMember.objects.get(user=new)
    assert owner.post(reverse("dashboard:member-remove", args=[a["store"].pk, member.pk])).status_code == 302
    assert not StoreMember.objects.filter(user=new).exists()
    assert list(AuditEntry.objects.filter(action__startswith="member.").values_list("action", flat=True)) == [
        "member.remove", "member.add"]
    # the user of B cannot be taken over from A: adding them to A gives no link
    owner.post(url, {"username": "b-owner", "role": "viewer"})
    m = StoreMember.objects.get(store=a["store"], user=users["b-owner"])
    resp = owner.post(reverse("dashboard:member-link", args=[a["store"].pk, m.pk]), follow=True)
    assert "link" not in resp.context or not resp.context["link"]
    # the last owner stays
    own = StoreMember.objects.get(store=a["store"], user=users["owner"])
    owner.post(reverse("dashboard:member-remove", args=[a["store"].pk, own.pk]))
    assert StoreMember.objects.filter(pk=own.pk).exists()


def test_alert_routes_only_for_own_stores(hub, settings):
    """A user of store A cannot send store B's alerts anywhere: B is not among the stores the form accepts."""
    from ocbridge.core.models import AlertRoute

    settings.EMAIL_HOST = "127.0.0.1"  # mail is set up: the store is the only thing wrong with the form
    a, b, users = hub
    client = _client(users["owner"])
    before = AlertRoute.objects.count()
    resp = client.post(reverse("dashboard:alerts"), {"store": b["store"].pk, "channel": "email",
                                                     "target": "intruder@example.com", "digest_minutes": 60,
                                                     "waiting_minutes": 60, "enabled": "on"})
    assert resp.status_code == 200 and AlertRoute.objects.count() == before and MARK.encode() not in resp.content
    assert b"Select a valid choice" in resp.content
    resp = client.post(reverse("dashboard:alerts"), {"store": a["store"].pk, "channel": "email",
                                                     "target": "owner-a@example.com", "digest_minutes": 60,
                                                     "waiting_minutes": 60, "enabled": "on"})
    assert resp.status_code == 302 and AlertRoute.objects.count() == before + 1  # the control: A's store is fine
    assert MARK not in client.get(reverse("dashboard:alerts")).content.decode()  # B is not offered, B's route unseen
