"""A failing poll's error is stored as said (core.sentences), not as text in the worker's language: each reader of
the store page and of the overview's attention lines sees it in their own language (tr, ru, en). Real MariaDB."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from ocbridge.core import polls
from ocbridge.core.models import PollHealth, Store
from ocbridge.opencart.polling import POLL
from opencart.writes_helpers import make_store

pytestmark = pytest.mark.django_db

UNREACHABLE = {"en": "Shop database not reachable (connection refused: nothing listens on that host and port)",
               "tr": "Mağaza veritabanına erişilemiyor (bağlantı reddedildi: bu ana bilgisayar ve bağlantı noktasında "
                     "dinleyen bir şey yok)",
               "ru": "База данных магазина недоступна (в соединении отказано: на этом хосте и порту ничего не слушает)"}
NO_TLS = {"en": "The shop's database server does not offer TLS, and this store requires a verified TLS connection.",
          "tr": "Mağazanın veritabanı sunucusu TLS sunmuyor, ancak bu mağaza doğrulanmış bir TLS bağlantısı "
                "gerektiriyor.",
          "ru": "Сервер базы данных магазина не предлагает TLS, а этот магазин требует проверенного TLS-соединения."}


@pytest.fixture
def store(opencart_db):
    """A MariaDB shop whose orders a feature reads (COD confirmation), polled once while it works."""
    from ocbridge.core.models import Connection
    from testkit import cod_integration

    store = make_store(opencart_db("3.0"))
    conn = Connection.objects.create(store=store, service="sandbox", base_url="http://127.0.0.1:9/",
                                     secret={"token": "t"})
    cod_integration(store, conn)
    polls.run_all(POLL)
    return store


def _reader(lang: str) -> Client:
    from django.contrib.auth.models import User

    user = User.objects.filter(username="admin").first() or User.objects.create_superuser("admin", password="pw")
    client = Client()
    client.force_login(user)
    client.cookies["django_language"] = lang
    return client


def _failing_poll_in_a_turkish_worker() -> PollHealth:
    with translation.override("tr"):  # the worker's language must not matter
        polls.run_all(POLL)
    return PollHealth.objects.get(poll=POLL, failing_since__isnull=False)


def _shown(store, lang: str) -> tuple[str, str]:
    """The store page's "Reading the shop" row and the overview's attention line, as a reader in `lang` sees them."""
    import html
    import re

    page = html.unescape(_reader(lang).get(reverse("dashboard:store", args=[store.pk])).content.decode())
    row = re.search(r'<tr id="shop-reading">.*?</tr>', page, re.S).group(0)
    from ocbridge.opencart.attention import shop_unreachable

    with translation.override(lang):
        [line] = shop_unreachable(Store.objects.all())
    return row, line.text


@pytest.mark.parametrize("lang", ["en", "tr", "ru"])
def test_an_unreachable_shop_reads_in_each_readers_language(store, lang):
    Store.objects.filter(pk=store.pk).update(db_port=9)  # nothing listens there
    row = _failing_poll_in_a_turkish_worker()
    assert row.last_error.startswith(UNREACHABLE["en"])  # the stored text, for logs: English
    page, attention = _shown(store, lang)
    assert UNREACHABLE[lang] in page and UNREACHABLE[lang] in attention, (page, attention)
    for other in {"en", "tr", "ru"} - {lang}:
        assert UNREACHABLE[other] not in page


@pytest.mark.parametrize("lang", ["en", "tr", "ru"])
def test_a_refused_tls_connection_reads_in_each_readers_language(store, lang):
    """The session's MariaDB offers no TLS; the store asks for a verified connection (opencart.db.tls_problem)."""
    Store.objects.filter(pk=store.pk).update(db_tls_verify=True)
    row = _failing_poll_in_a_turkish_worker()
    assert row.last_error.startswith(NO_TLS["en"])
    page, attention = _shown(store, lang)
    assert NO_TLS[lang] in page and NO_TLS[lang] in attention, (page, attention)


def test_an_error_said_only_in_words_is_shown_as_stored(store):
    """A driver's or a service's own words (no Sentence): shown as stored, in every language."""
    from ocbridge.core import clock

    PollHealth.objects.create(poll=POLL, key=store.db_key, store=store, failing_since=clock.now(), failures=1,
                              last_error="Their own words: HY000 something odd", updated=clock.now())
    page, attention = _shown(store, "tr")
    assert "Their own words: HY000 something odd" in page and "something odd" in attention


def test_a_sentence_round_trips_through_its_data_and_reads_in_the_active_language():
    from ocbridge.core.sentences import Sentence

    said = Sentence("Shop database not reachable ({cause}): {detail}",
                    cause=Sentence("the server closed the connection"), detail="(2013, 'Lost connection')")
    assert Sentence.from_data(said.as_data()) == said
    assert said.english() == "Shop database not reachable (the server closed the connection): (2013, 'Lost connection')"
    with translation.override("ru"):
        assert str(said) == "База данных магазина недоступна (сервер закрыл соединение): (2013, 'Lost connection')"
    assert Sentence.from_data({"values": {}}) is None and Sentence.from_data(None) is None
    from ocbridge.core.errors import RetryableError
    from ocbridge.core.sentences import sentence_of

    error = RetryableError("opencart-db", 2013, said)  # its message stays text (stored in rows as such) …
    assert isinstance(error.message, str) and error.message == said.english()
    assert sentence_of(error) == said  # … and the Sentence rides along for the pages
