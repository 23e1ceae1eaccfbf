"""Fixtures for dashboard tests: a user, a logged-in client, a Store and Connection holding known secrets."""

import pytest
from django.test import Client

SECRET_DB_PASSWORD = "Db-S3cret-pw-7731"
SECRET_API_KEY = "oc-api-key-ZX81-very-secret"
SECRET_CRED = "verimor-key-K999-hidden"


@pytest.fixture
def user(db):
    from django.contrib.auth.models import User

    # A hub administrator: these tests are about the pages; per-store roles are tests/forgery/test_store_scoping.py
    return User.objects.create_user("owner", password="pw-owner-123", is_staff=True, is_superuser=True)


@pytest.fixture
def client_in(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


@pytest.fixture
def csrf_client(user) -> Client:
    c = Client(enforce_csrf_checks=True)
    c.force_login(user)
    return c


@pytest.fixture
def store(db):
    from ocbridge.core.models import Store

    return Store.objects.create(
        name="Demo Shop", version="3.0", api_url="https://shop.example.com/", api_username="hub",
        db_url=f"mysql+pymysql://oc:{SECRET_DB_PASSWORD}@db.example.com/oc", secret={"api_key": SECRET_API_KEY})


@pytest.fixture
def connection(store):
    from ocbridge.core.models import Connection

    return Connection.objects.create(store=store, service="verimor", name="Main PBX", secret={"key": SECRET_CRED})


@pytest.fixture
def known_secrets() -> dict:
    return {"db_password": SECRET_DB_PASSWORD, "api_key": SECRET_API_KEY, "credential": SECRET_CRED}
