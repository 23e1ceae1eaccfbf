"""Secrets are encrypted at rest, masked in the log, and survive key rotation."""

import pytest
from django.core.management import call_command
from django.db import connection

from ocbridge.core.masking import MASK, mask_body, mask_url
from ocbridge.core.models import Connection, Store

pytestmark = pytest.mark.django_db


def _raw(table, pk):
    with connection.cursor() as cur:
        cur.execute(f"SELECT secret FROM {table} WHERE id = %s", [pk])
        return cur.fetchone()[0]


def test_credentials_are_not_in_the_database_in_clear(keyfile):
    store = Store.objects.create(name="s", db_url="mysql+pymysql://u:Sup3rSecret@h/db")
    conn = Connection.objects.create(store=store, service="netgsm", secret={"password": "hunter2-pass"})
    assert "Sup3rSecret" not in _raw("core_store", store.pk)
    assert "hunter2-pass" not in _raw("core_connection", conn.pk)
    assert Connection.objects.get(pk=conn.pk).credentials() == {"password": "hunter2-pass"}


def test_rotate_key_reencrypts_and_old_key_is_gone(keyfile):
    store = Store.objects.create(name="s", secret={"api_key": "k" * 32})
    before = _raw("core_store", store.pk)
    old_key = keyfile.read_text().strip()
    call_command("ocbridge_rotate_key")
    after = _raw("core_store", store.pk)
    assert after != before
    assert keyfile.read_text().strip() != old_key and len(keyfile.read_text().split()) == 1
    assert Store.objects.get(pk=store.pk).api_key == "k" * 32


def test_masking_of_urls_and_bodies():
    assert "hunter2" not in mask_url("https://api.x/send?username=u&password=hunter2&key=abc")
    assert MASK in mask_url("https://u:hunter2@host/path")
    assert "hunter2" not in mask_url("/hooks/x?cli=%2B90%20532&Pass%77ord=hunter2")  # a name spelt in escapes too
    # Nothing to mask: the query is logged exactly as the provider sent it, not re-encoded (%20 is not turned into +).
    assert mask_url("/hooks/verimor/tok/call?cli=%2B90%20532&cld=0850&step=1") == "/hooks/verimor/tok…/call?cli=%2B90%20532&cld=0850&step=1"
    body = mask_body('{"username": "u", "password": "hunter2", "nested": {"api_key": "zzz"}}')
    assert "hunter2" not in body and "zzz" not in body and '"username": "u"' in body
    assert "s3cr3tvalue" not in mask_body("free text containing s3cr3tvalue", ["s3cr3tvalue"])
    assert "hunter2" not in mask_body("usercode=u&password=hunter2")
