"""Two-factor login (core.two_factor, dashboard/two_factor.py): a user with an authenticator reaches nothing —
dashboard, store pages, the Django admin — until a code is given after the password; a code works once; recovery
codes work once each; wrong codes count as failed logins; the superuser decides which roles must use it and such a
user sees only the set-up page until it is on. Codes are made with pyotp, as an authenticator app makes them."""

from __future__ import annotations

import pyotp
import pytest
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db

PAGE, VERIFY = "/account/two-factor/", "/account/two-factor/verify/"


@pytest.fixture
def users(settings):
    from django.contrib.auth.models import User

    from ocbridge.core.models import Store, StoreMember

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    store = Store.objects.create(name="A", db_host="db", db_name="oc")
    made = {"root": User.objects.create_superuser("root", password="pw-root-123")}
    for role in ("owner", "operator"):
        made[role] = User.objects.create_user(role, password=f"pw-{role}-123")
        StoreMember.objects.create(store=store, user=made[role], role=role)
    made["store"] = store
    return made


@pytest.fixture(autouse=True)
def fresh_step():
    """Each test starts a second into a new 30 s TOTP step, so its codes keep their step for the test's few seconds:
    a run on a loaded machine that crossed a step boundary between enrolling and the next code saw the "used" code
    become a new, unused one (CI, 2026-12-07)."""
    from ocbridge.core import clock

    clock.travel(30 - clock.now().timestamp() % 30 + 1)


def _login(username: str) -> Client:
    c = Client()
    assert c.post("/login/", {"username": username, "password": f"pw-{username}-123"}).status_code == 302
    return c


def _code(key: str, later_steps: int = 0) -> str:
    from ocbridge.core import clock

    totp = pyotp.TOTP(key)
    return totp.generate_otp(totp.timecode(clock.now()) + later_steps)


def _enrol(c: Client) -> tuple[str, list[str]]:
    page = c.get(PAGE)
    key = page.context["key"]
    assert "<svg" in page.content.decode() and key in page.content.decode()
    assert c.post(PAGE, {"action": "enrol", "code": "000000" if _code(key) != "000000" else "111111"}).status_code == 400
    done = c.post(PAGE, {"action": "enrol", "code": _code(key)})
    assert done.status_code == 200
    return key, done.context["codes"]


def _next_step():
    from ocbridge.core import clock

    clock.travel(30)  # the code of the step just used works once: the app shows the next one 30 s later


def test_enrol_then_every_page_waits_for_the_code(users):
    from ocbridge.core.models import AuditEntry, LoginFailure, TwoFactor

    c = _login("owner")
    key, codes = _enrol(c)
    assert len(codes) == 10 and len(set(codes)) == 10
    row = TwoFactor.objects.get(user=users["owner"])
    assert row.confirmed and key not in str(row.recovery) and all(code not in str(row.recovery) for code in codes)
    assert AuditEntry.objects.filter(action="two_factor.on", user="owner").count() == 1
    assert c.get("/").status_code == 200  # the session that enrolled is verified

    c2 = _login("owner")  # a new login: the password alone opens nothing
    store = users["store"]
    for url in ("/", reverse("dashboard:store", args=[store.pk]), reverse("dashboard:confirmations"), "/admin/",
                PAGE, "/no-such-page/"):
        resp = c2.get(url)
        assert resp.status_code == 302 and resp["Location"].startswith(VERIFY), url
    assert c2.post(reverse("dashboard:store-edit", args=[store.pk]), {"name": "changed"}).status_code == 302
    store.refresh_from_db()
    assert store.name == "A"

    assert c2.post(VERIFY, {"code": "12345", "next": "/"}).status_code == 400
    assert LoginFailure.objects.filter(username="owner").count() == 1
    assert c2.post(VERIFY, {"code": _code(key), "next": "/"}).status_code == 400  # used when enrolling
    _next_step()
    resp = c2.post(VERIFY, {"code": _code(key), "next": reverse("dashboard:confirmations")})
    assert resp.status_code == 302 and resp["Location"] == reverse("dashboard:confirmations")
    assert c2.get(reverse("dashboard:store", args=[store.pk])).status_code == 200

    c3 = _login("owner")
    assert c3.post(VERIFY, {"code": _code(key), "next": "/"}).status_code == 400  # replayed within its step
    _next_step()
    resp = c3.post(VERIFY, {"code": _code(key), "next": "https://evil.example/"})
    assert resp.status_code == 302 and resp["Location"] == "/"  # never sent to another site after the code


def test_recovery_codes_work_once_each_and_are_audited(users):
    from ocbridge.core.models import AuditEntry

    _key, codes = _enrol(_login("operator"))
    c = _login("operator")
    resp = c.post(VERIFY, {"code": codes[3].lower().replace("-", " "), "next": "/"})
    assert resp.status_code == 302 and resp["Location"] == "/"
    assert AuditEntry.objects.get(action="two_factor.recovery_code_used").data == {"left": 9}
    assert _login("operator").post(VERIFY, {"code": codes[3], "next": "/"}).status_code == 400


def test_wrong_codes_lock_like_wrong_passwords(users, settings):
    key, _codes = _enrol(_login("operator"))
    _next_step()
    c = _login("operator")
    for _ in range(settings.LOGIN_FAIL_LIMIT):
        assert c.post(VERIFY, {"code": "999999" if _code(key) != "999999" else "888888"}).status_code == 400
    resp = c.post(VERIFY, {"code": _code(key)})
    assert resp.status_code == 400 and "Too many failed logins" in resp.content.decode()
    assert c.get("/").status_code == 302


def test_turning_off_needs_a_code_and_is_refused_when_the_role_requires_it(users):
    from ocbridge.core.models import AuditEntry, HubPolicy, TwoFactor

    c = _login("owner")
    key, _codes = _enrol(c)
    _next_step()
    assert c.post(PAGE, {"action": "off", "code": "000000" if _code(key) != "000000" else "111111"}).status_code == 400
    HubPolicy.objects.update_or_create(pk=1, defaults={"two_factor_roles": ["owner"]})
    c.post(PAGE, {"action": "off", "code": _code(key)})
    assert TwoFactor.objects.filter(user=users["owner"], confirmed=True).exists()
    HubPolicy.objects.filter(pk=1).update(two_factor_roles=[])
    _next_step()
    assert c.post(PAGE, {"action": "off", "code": _code(key)}).status_code == 302
    assert not TwoFactor.objects.filter(user=users["owner"]).exists()
    assert AuditEntry.objects.filter(action="two_factor.off").count() == 1


def test_the_superuser_decides_which_roles_must_use_it(users):
    from ocbridge.core.models import AuditEntry, HubPolicy

    owner = _login("owner")
    owner.post(PAGE, {"action": "policy", "roles": ["operator", "owner"]})  # not theirs to decide
    assert HubPolicy.current().two_factor_roles == []

    root = _login("root")
    assert root.post(PAGE, {"action": "policy", "roles": ["owner"]}).status_code == 302
    assert HubPolicy.current().two_factor_roles == ["owner"]
    assert AuditEntry.objects.get(action="two_factor.policy").data == {"roles": ["owner"]}

    owner = _login("owner")
    for url in ("/", reverse("dashboard:stores"), "/admin/"):
        resp = owner.get(url)
        assert resp.status_code == 302 and resp["Location"].startswith(PAGE), url
    assert owner.get(PAGE).status_code == 200
    assert _login("operator").get("/").status_code == 200  # operators are not named
    _enrol(owner)
    assert owner.get("/").status_code == 200


def test_the_key_is_encrypted_at_rest(users):
    from django.db import connection

    c = _login("owner")
    key = c.get(PAGE).context["key"]
    with connection.cursor() as cur:
        cur.execute("SELECT secret FROM core_twofactor")
        stored = cur.fetchone()[0]
    assert key not in stored
