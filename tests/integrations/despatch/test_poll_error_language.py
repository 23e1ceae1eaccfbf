"""A Despatch Cloud poll whose login is refused (the simulator answers 401 {"error": "Unauthenticated."}, as DC's
`auth/login` does for a wrong pair) reads in each reader's language on the store page and the overview's attention
line — it was English text. The poll is the real one (despatch.orders) in a Turkish worker; a real MariaDB shop."""

from __future__ import annotations

import pytest
from django.utils import translation
from testkit import failing_read_shown

from ocbridge.core import polls
from ocbridge.core.models import PollHealth
from ocbridge.integrations.despatch import jobs

pytestmark = pytest.mark.django_db

SAID = {"en": "e-mail or password refused: Unauthenticated.",
        "tr": "e-posta veya parola reddedildi: Unauthenticated.",
        "ru": "отклонено — e-mail или пароль: Unauthenticated."}


@pytest.mark.parametrize("shop", ["3.0"], indirect=True)
def test_a_refused_dc_login_reads_in_each_readers_language(shop, sim, integration, kit):
    kit.add_order(shop, 101, status=2)
    kit.poll(integration)  # created at DC: the DC poll has an order of ours to follow
    assert len(sim.orders()) == 1
    conn = integration.connection
    conn.secret = {**conn.secret, "password": "changed-at-dc"}
    conn.save()
    with translation.override("tr"):  # the worker's language must not matter
        polls.run_all(jobs.POLL)
    health = PollHealth.objects.get(poll=jobs.POLL, failing_since__isnull=False)
    assert health.last_error == SAID["en"]  # the stored text, for logs: English
    for lang in ("en", "tr", "ru"):
        row, line = failing_read_shown(integration.store, lang)
        assert SAID[lang] in row and SAID[lang] in line, (lang, row, line)


SERVER_ERROR = {"en": "server error (HTTP 503): Server Error", "tr": "sunucu hatası (HTTP 503): Server Error",
                "ru": "ошибка сервера (HTTP 503): Server Error"}


@pytest.mark.parametrize("shop", ["3.0"], indirect=True)
def test_a_dc_server_fault_reads_in_each_readers_language(shop, sim, integration, kit):
    """Despatch Cloud answering 503 (queued at the simulator) to the poll: said as a server error."""
    kit.add_order(shop, 102, status=2)
    kit.poll(integration)
    sim.fail_next("503", count=20)
    with translation.override("tr"):
        polls.run_all(jobs.POLL)
    health = PollHealth.objects.get(poll=jobs.POLL, failing_since__isnull=False)
    assert health.last_error == SERVER_ERROR["en"]
    for lang in ("en", "tr", "ru"):
        row, line = failing_read_shown(integration.store, lang)
        assert SERVER_ERROR[lang] in row and SERVER_ERROR[lang] in line, (lang, row, line)
