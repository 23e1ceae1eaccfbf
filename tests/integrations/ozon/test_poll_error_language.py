"""A failing Ozon poll reads in each reader's language on the store page and the overview's attention lines: the
refusals and network failures of the outside services are said (core.sentences) where they are raised — the shared
HTTP client (unreachable, no answer in time) and each client's own answers (credentials refused, rate limited) —
not stored as English text only. The poll is the real one (ozon.orders), run in a Turkish worker, against the
loopback Ozon simulator (a wrong Api-Key answers 403 code 7, as Ozon does; a queued 429 and 503; an answer that never
comes) and a port nothing listens on; a real MariaDB shop. The connection's "is failing" line says it the same way
(Connection.last_error_said beside its English text)."""

from __future__ import annotations

import pytest
from django.utils import translation
from testkit import failing_read_shown

from ocbridge.core import polls
from ocbridge.core.attention import connections_failing
from ocbridge.core.models import Connection, PollHealth, Store
from ocbridge.integrations.ozon import jobs

pytestmark = pytest.mark.django_db
OZON_TIMEOUT = 2  # seconds the Ozon client waits here (settings.OZON_TIMEOUT; the real 30 s only made this wait)

# What each reader sees before the service's own words (which stay as the service said them).
SAID = {
    "refused": {"en": "Client-Id/Api-Key refused: Invalid Api-Key, please contact support",
                "tr": "Client-Id/Api-Key reddedildi: Invalid Api-Key, please contact support",
                "ru": "отклонено — Client-Id/Api-Key: Invalid Api-Key, please contact support"},
    "429": {"en": "rate limited: You have reached request rate limit per second (8)",
            "tr": "istek sınırı aşıldı: You have reached request rate limit per second (8)",
            "ru": "превышен лимит запросов: You have reached request rate limit per second (8)"},
    "503": {"en": "server error (HTTP 503): Internal error", "tr": "sunucu hatası (HTTP 503): Internal error",
            "ru": "ошибка сервера (HTTP 503): Internal error"},
    "timeout": {"en": "sent, but no answer in time (",
                "tr": "gönderildi, ancak zamanında yanıt gelmedi (",
                "ru": "отправлено, но ответ не пришёл вовремя ("},
    "garbage": {"en": "unreadable answer: '<html><body><h1>502 Bad Gateway",  # a 200 a proxy in the way made
                "tr": "okunamayan yanıt: '<html><body><h1>502 Bad Gateway",
                "ru": "нечитаемый ответ: '<html><body><h1>502 Bad Gateway"},
    "unreachable": {"en": "connection refused: nothing listens on that host and port (",
                    "tr": "bağlantı reddedildi: bu ana bilgisayar ve bağlantı noktasında dinleyen bir şey yok (",
                    "ru": "в соединении отказано: на этом хосте и порту ничего не слушает ("},
}


def _break(fault: str, integration, sim, settings) -> None:
    conn = integration.connection
    if fault == "refused":
        conn.secret = {**conn.secret, "api_key": "00000000-0000-4000-8000-00000000dead"}
        conn.save()
    elif fault == "429":
        sim.fail_next("429", count=5)
    elif fault in ("garbage", "503"):
        sim.fail_next(fault, count=5)
    elif fault == "timeout":  # held past the client's timeout: a real wait, no client swapped in
        settings.OZON_TIMEOUT = OZON_TIMEOUT
        sim.fail_next("timeout", seconds=OZON_TIMEOUT + 5)
    else:
        Connection.objects.filter(pk=conn.pk).update(base_url="http://127.0.0.1:9")


@pytest.mark.parametrize("shop", ["3.0"], indirect=True)
@pytest.mark.parametrize("fault", list(SAID))
def test_a_failing_ozon_poll_reads_in_each_readers_language(integration, sim, shop, fault, settings):
    key = polls.integration_key(integration)
    assert polls.run_one(jobs.ORDERS_POLL, key)  # works first
    _break(fault, integration, sim, settings)
    with translation.override("tr"):  # the worker's language must not matter
        assert not polls.run_one(jobs.ORDERS_POLL, key)
    health = PollHealth.objects.get(poll=jobs.ORDERS_POLL, key=key)
    assert health.failing_since and health.last_error.startswith(SAID[fault]["en"]), health.last_error  # logs: English
    for lang in ("en", "tr", "ru"):
        row, line = failing_read_shown(integration.store, lang)
        assert SAID[fault][lang] in row and SAID[fault][lang] in line, (lang, row, line)
        with translation.override(lang):  # the connection's own line: "Ozon (Shop 3.0) is failing: Ozon says …"
            [failing] = connections_failing(Store.objects.all())
        assert SAID[fault][lang] in failing.text, (lang, failing.text)
        for other in {"en", "tr", "ru"} - {lang}:
            assert SAID[fault][other] not in row
