"""Connections, stores and integrations kept per process (core.config_cache): every edit is seen — at once in the
process that made it, within CHECK_SECONDS in another process — and a handler's changes to its copy stay its own."""

import json
import subprocess
import time

import pytest
from django.http import HttpResponse
from django.test import Client

from ocbridge.core import config_cache
from ocbridge.core.models import Connection, Integration, Store
from ocbridge.core.registry import register_webhook

from testkit import PYTHON, worker_env


@register_webhook("sandbox", "test-config")
def _show(request, connection, exchange):
    """What the webhook path knows of its connection, as the answer; then a handler scribbling on its copy."""
    integration = config_cache.integration(connection.store_id, "cod_confirm")
    seen = {"token": connection.credentials().get("token"), "store": connection.store.name,
            "served": connection.served_store_ids(), "cod": integration.settings if integration else None}
    connection.store.name = "changed by a handler"
    connection.secret["token"] = "changed by a handler"
    return HttpResponse(json.dumps(seen), content_type="application/json")


def ask(conn) -> dict | int:
    resp = Client().post(f"/hooks/sandbox/{conn.webhook_token}/test-config", data=b"{}", content_type="application/json")
    return resp.json() if resp.status_code == 200 else resp.status_code


@pytest.fixture
def conn():
    store = Store.objects.create(name="Mağaza")
    return Connection.objects.create(store=store, service="sandbox", secret={"token": "t1"})


@pytest.mark.django_db
def test_an_edit_in_this_process_is_seen_by_the_next_request(conn):
    assert ask(conn) == {"token": "t1", "store": "Mağaza", "served": [conn.store_id], "cod": None}
    assert ask(conn)["store"] == "Mağaza"  # the handler's scribbles stayed on its copy
    conn.secret = {"token": "t2"}
    conn.save()
    conn.store.name = "Yeni"
    conn.store.save()
    other = Store.objects.create(name="Other")
    conn.shared_with.add(other)
    Integration.objects.create(store=conn.store, kind="cod_confirm", settings={"x": 1})
    assert ask(conn) == {"token": "t2", "store": "Yeni", "served": [conn.store_id, other.pk], "cod": {"x": 1}}
    conn.enabled = False
    conn.save()
    assert ask(conn) == 404


@pytest.mark.django_db
def test_a_change_no_signal_saw_is_seen_after_max_age(conn, monkeypatch):
    assert ask(conn)["token"] == "t1"
    Store.objects.filter(pk=conn.store_id).update(name="Updated")  # a queryset update sends no signal
    assert ask(conn)["store"] == "Mağaza"
    monkeypatch.setattr(config_cache, "MAX_AGE", 0.0)
    assert ask(conn)["store"] == "Updated"


@pytest.mark.django_db(transaction=True)
def test_an_edit_in_another_process_is_seen_within_the_check_interval(conn):
    assert ask(conn)["token"] == "t1"  # cached here
    script = (f"import django; django.setup()\n"
              f"from ocbridge.core.models import Connection\n"
              f"c = Connection.objects.get(pk={conn.pk}); c.secret = {{'token': 't-other'}}; c.save()\n")
    done = subprocess.run([PYTHON, "-c", script], env=worker_env(DJANGO_SETTINGS_MODULE="ocbridge.settings"),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    time.sleep(config_cache.CHECK_SECONDS + 0.1)
    assert ask(conn)["token"] == "t-other"
    script = script.replace("c.secret = {'token': 't-other'}; c.save()", "c.enabled = False; c.save()")
    assert subprocess.run([PYTHON, "-c", script], env=worker_env(DJANGO_SETTINGS_MODULE="ocbridge.settings"),
                          timeout=120).returncode == 0
    time.sleep(config_cache.CHECK_SECONDS + 0.1)
    assert ask(conn) == 404
