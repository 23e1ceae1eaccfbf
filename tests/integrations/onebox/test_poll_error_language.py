"""A failing OneBox change poll reads in each reader's language on the store page and the overview's attention line:
OneBox refusing the login (a changed REST API password; the simulator answers as OneBox does, status 0 with
"Invalid login or restapipassword") and OneBox answering a server fault (503). The poll is the real one (onebox.poll)
in a Turkish worker, against the loopback OneBox simulator; a real MariaDB shop."""

from __future__ import annotations

import pytest
from django.utils import translation
from testkit import failing_read_shown

from ocbridge.core import polls
from ocbridge.core.models import PollHealth
from ocbridge.integrations.onebox import jobs

pytestmark = pytest.mark.django_db

SAID = {
    "login": {"en": "login or REST API password refused: Invalid login or restapipassword",
              "tr": "kullanıcı adı veya REST API parolası reddedildi: Invalid login or restapipassword",
              "ru": "отклонено — логин или пароль REST API: Invalid login or restapipassword"},
    "503": {"en": "server error (HTTP 503): ", "tr": "sunucu hatası (HTTP 503): ", "ru": "ошибка сервера (HTTP 503): "},
}


@pytest.mark.parametrize("shop", ["3.0"], indirect=True)
@pytest.mark.parametrize("fault", list(SAID))
def test_a_failing_onebox_poll_reads_in_each_readers_language(shop, sim, integration, kit, fault):
    assert kit.poll_onebox(integration) is not None  # works first (and keeps a token)
    assert not PollHealth.objects.filter(failing_since__isnull=False).exists()
    if fault == "login":
        conn = integration.connection
        conn.secret = {**conn.secret, "password": "changed-in-onebox"}
        conn.save()
    else:
        sim.fail_next("503", count=20)
    with translation.override("tr"):  # the worker's language must not matter
        kit.poll_onebox(integration)
    health = PollHealth.objects.get(poll=jobs.POLL, failing_since__isnull=False)
    assert health.last_error.startswith(SAID[fault]["en"]), health.last_error  # the stored text, for logs: English
    for lang in ("en", "tr", "ru"):
        row, line = failing_read_shown(integration.store, lang)
        assert SAID[fault][lang] in row and SAID[fault][lang] in line, (lang, row, line)
        for other in {"en", "tr", "ru"} - {lang}:
            assert SAID[fault][other] not in row, (lang, row)
