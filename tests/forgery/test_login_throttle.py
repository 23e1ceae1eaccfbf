"""Password guessing: after 5 failed logins for a user name in 15 minutes, even the right password is refused until
the window passes; other users are not locked by it; a session lasts SESSION_COOKIE_AGE."""

import datetime as dt

import pytest
from django.conf import settings as dj_settings
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(settings):
    from django.contrib.auth.models import User

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    User.objects.create_user("other", password="other-pw-123")
    return User.objects.create_user("owner", password="right-pw-123")


def _login(client, username, password):
    return client.post("/login/", {"username": username, "password": password})


def test_five_failures_lock_the_name_then_the_window_passes(owner, settings):
    from ocbridge.core.models import LoginFailure

    client = Client()
    assert _login(client, "owner", "right-pw-123").status_code == 302  # the control: the password works
    client = Client()
    for _ in range(5):
        assert _login(client, "owner", "guess").status_code == 200
    resp = _login(client, "OWNER", "right-pw-123")
    assert resp.status_code == 200 and "Too many failed logins" in resp.content.decode()
    assert "_auth_user_id" not in client.session
    assert _login(Client(), "other", "other-pw-123").status_code == 302  # another account is not locked
    LoginFailure.objects.update(created=LoginFailure.objects.first().created - dt.timedelta(minutes=16))
    assert _login(Client(), "owner", "right-pw-123").status_code == 302


def test_sessions_expire():
    assert dj_settings.SESSION_COOKIE_AGE <= 24 * 3600


def test_a_store_owner_may_lower_the_limit_for_their_users_never_raise_it(owner, settings):
    """Store.login_fail_limit (set by the store's owner on the store form, at most OCBRIDGE_LOGIN_FAIL_LIMIT): a user
    of that store is locked after 2 failures; a user of no store keeps the hub's 5; a user of two stores gets the
    lower limit."""
    from ocbridge.core import limits
    from ocbridge.core.models import Store, StoreMember

    strict = Store.objects.create(name="Strict", db_host="db", db_name="a", login_fail_limit=2)
    loose = Store.objects.create(name="Loose", db_host="db", db_name="b", login_fail_limit=4)
    StoreMember.objects.create(store=strict, user=owner, role="operator")
    StoreMember.objects.create(store=loose, user=owner, role="owner")
    assert limits.login_fail_limit("owner") == 2 and limits.login_fail_limit("other") == 5
    client = Client()
    for _ in range(2):
        assert _login(client, "owner", "guess").status_code == 200
    resp = _login(client, "owner", "right-pw-123")
    assert resp.status_code == 200 and "Too many failed logins" in resp.content.decode()
    for _ in range(4):
        _login(Client(), "other", "guess")
    assert _login(Client(), "other", "other-pw-123").status_code == 302  # 4 < the hub's 5
    settings.LOGIN_FAIL_LIMIT = 1
    assert limits.login_fail_limit("owner") == 1  # the hub's ceiling wins


def test_the_store_form_refuses_a_login_limit_above_the_hubs_or_zero(client, settings):
    from django.contrib.auth.models import User
    from django.urls import reverse

    from ocbridge.core.models import Store

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    client.force_login(User.objects.create_superuser("root", password="pw"))
    store = Store.objects.create(name="S", db_host="db", db_name="oc")
    form = {"name": "S", "db_host": "db", "db_port": "3306", "db_name": "oc", "db_charset": "utf8mb4",
            "table_prefix": "oc_", "oc_store_id": "0", "timezone": "Europe/Istanbul", "language": "tr",
            "country": "TR", "currency": "TRY", "enabled": "on", "personal_data_days": "180"}
    for value, words in (("6", "At most 5 on this hub"), ("0", "At least 1")):
        resp = client.post(reverse("dashboard:store-edit", args=[store.pk]), {**form, "login_fail_limit": value})
        assert resp.status_code == 200 and words in resp.content.decode()
    assert client.post(reverse("dashboard:store-edit", args=[store.pk]), {**form, "login_fail_limit": "3"}).status_code == 302
    store.refresh_from_db()
    assert store.login_fail_limit == 3
