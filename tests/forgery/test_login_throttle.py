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
