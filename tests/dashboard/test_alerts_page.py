"""The alerts page: a user adds where their alerts go, sends a test through the Telegram Bot API simulator, and
removes the route; wrong input is refused with the reason."""

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from ocbridge.core.jobs import run_until_idle
from ocbridge.core.models import AlertRoute, AuditEntry, SideEffect, Store, StoreMember
from ocbridge.simulators.telegram import TelegramSimulator

pytestmark = pytest.mark.django_db


def test_add_test_and_remove_a_telegram_route(settings):
    with TelegramSimulator() as tg:
        tg.add_chat(424242)
        settings.TELEGRAM_BOT_TOKEN, settings.TELEGRAM_API_URL = tg.token, tg.base_url
        store = Store.objects.create(name="Mağaza A")
        user = User.objects.create_user("ayse", password="x")
        StoreMember.objects.create(store=store, user=user, role="viewer")
        client = Client()
        client.force_login(user)
        form = {"store": "", "channel": "telegram", "target": "not a chat", "digest_minutes": 2,
                "waiting_minutes": 45, "enabled": "on", "sources": ["failing", "waiting"]}
        resp = client.post(reverse("dashboard:alerts"), form)
        assert resp.status_code == 200 and b"chat id" in resp.content and b"Ensure this value" in resp.content
        resp = client.post(reverse("dashboard:alerts"), {**form, "target": "424242", "digest_minutes": 30,
                                                         "language": "ru"})
        assert resp.status_code == 302
        route = AlertRoute.objects.get(user=user)
        assert (route.store, route.sources, route.waiting_minutes, route.language) == (
            None, ["failing", "waiting"], 45, "ru")
        client.post(reverse("dashboard:alert-test", args=[route.pk]))
        run_until_idle()
        (msg,) = tg.messages(424242)
        assert msg["text"] == "Тестовое оповещение ocbridge\n\nЭто тест от ocbridge: оповещения доходят до вас сюда."  # ru
        page = client.get(reverse("dashboard:alerts")).content.decode()
        assert "424242 <small>(Русский)</small>" in page and SideEffect.objects.get(key__startswith="alert-test:").get_state_display() in page
        client.post(reverse("dashboard:alert-remove", args=[route.pk]))
        assert not AlertRoute.objects.exists()
        assert [e.action for e in AuditEntry.objects.order_by("pk")] == ["alerts.add", "alerts.test", "alerts.remove"]


@pytest.mark.parametrize("fault, said", [
    ("429", {"en": "rate limited: Too Many Requests: retry after 1",
             "tr": "istek sınırı aşıldı: Too Many Requests: retry after 1",
             "ru": "превышен лимит запросов: Too Many Requests: retry after 1"}),
    ("503", {"en": "server error (HTTP 503): Service Unavailable", "tr": "sunucu hatası (HTTP 503): Service Unavailable",
             "ru": "ошибка сервера (HTTP 503): Service Unavailable"}),
    # a firewall in front of the Bot API refusing with no body: not Telegram's own JSON error
    ("403", {"en": "answered HTTP 403 without a body", "tr": "HTTP 403 ile yanıt verdi, yanıt gövdesi boş",
             "ru": "ответил HTTP 403 с пустым телом ответа"})])
def test_a_test_message_telegram_refuses_reads_in_the_readers_language(settings, fault, said):
    """Telegram answering "too many requests" or a server fault to the route's test message (the real job, run in a
    Turkish worker, against the Bot API simulator): the route's "Test:" line says it in each reader's language
    (SideEffect.error_said beside its English error), and so does the job's row."""
    import html

    from django.utils import translation

    from ocbridge.core.models import Job

    with TelegramSimulator() as tg:
        tg.add_chat(424242)
        settings.TELEGRAM_BOT_TOKEN, settings.TELEGRAM_API_URL = tg.token, tg.base_url
        user = User.objects.create_superuser("ayse", password="x")
        client = Client()
        client.force_login(user)
        assert client.post(reverse("dashboard:alerts"), {
            "store": "", "channel": "telegram", "target": "424242", "digest_minutes": 30, "waiting_minutes": 45,
            "enabled": "on", "sources": ["failing"]}).status_code == 302
        tg.fail_next(fault, count=20)
        client.post(reverse("dashboard:alert-test", args=[AlertRoute.objects.get().pk]))
        with translation.override("tr"):
            run_until_idle()
        job = Job.objects.get(key__startswith="alert-test:")
        assert job.state == "queued" and said["en"] in job.last_error  # tried again later; the text stays English
        for lang in ("en", "tr", "ru"):
            client.cookies["django_language"] = lang
            page = html.unescape(client.get(reverse("dashboard:alerts")).content.decode())
            jobs = html.unescape(client.get(reverse("dashboard:job", args=[job.pk])).content.decode())
            assert said[lang] in page and said[lang] in jobs, (lang, page)
            for other in {"en", "tr", "ru"} - {lang}:
                assert said[other] not in page


@pytest.mark.parametrize("fault, said", [
    ("empty", {"en": "no message_id in the answer: {}", "tr": "yanıtta message_id yok: {}",
               "ru": "в ответе нет message_id: {}"}),
    # Telegram's own error envelope with a gateway status (core.outbox.GATEWAY_CODES)
    ("502", {"en": "server error (HTTP 502): Bad Gateway", "tr": "sunucu hatası (HTTP 502): Bad Gateway",
             "ru": "ошибка сервера (HTTP 502): Bad Gateway"})])
def test_a_test_message_that_may_have_gone_out_reads_in_the_readers_language(settings, fault, said):
    """Telegram (or something in front of it) answering `ok` with no Message (the simulator's "empty" fault), or a
    502 in its own error envelope: it may have gone out, so it is never sent again; the route's "Test:" line says why
    in each reader's language."""
    import html

    from django.utils import translation

    with TelegramSimulator() as tg:
        tg.add_chat(424242)
        settings.TELEGRAM_BOT_TOKEN, settings.TELEGRAM_API_URL = tg.token, tg.base_url
        user = User.objects.create_superuser("ayse", password="x")
        route = AlertRoute.objects.create(user=user, channel="telegram", target="424242")
        client = Client()
        client.force_login(user)
        tg.fail_next(fault, path="/bot", count=5)
        client.post(reverse("dashboard:alert-test", args=[route.pk]))
        with translation.override("tr"):
            run_until_idle()
        effect = SideEffect.objects.get(key__startswith="alert-test:")
        assert effect.state == "unknown" and said["en"] in effect.error, effect.error  # never resent
        assert len([r for r in tg.requests() if r.path.endswith("/sendMessage")]) == 1
        for lang in ("en", "tr", "ru"):
            client.cookies["django_language"] = lang
            page = html.unescape(client.get(reverse("dashboard:alerts")).content.decode())
            line = page[page.index("424242"):][:1500]  # the route's row
            assert said[lang] in line, (lang, line)
            for other in {"en", "tr", "ru"} - {lang}:
                assert said[other] not in line, (lang, line)


@pytest.mark.parametrize("fault", ["login", "recipient", "unreachable", "dropped"])
def test_a_test_mail_the_server_refuses_reads_in_the_readers_language(settings, smtp_server, fault):
    """An e-mail route's test message that the SMTP server refuses (the store's own server refusing its password, a
    refused recipient), that finds no server, or whose connection the server cuts after taking the message (fate
    unknown, never resent): the route's "Test:" line says it in each reader's language (the
    loopback SMTP server, tests/smtpkit.py; the job run in a Turkish worker)."""
    import html
    import socket

    from django.utils import translation

    from ocbridge.core.models import Connection

    said = {"login": {"en": "the server refused the login: ", "tr": "sunucu oturum açmayı reddetti: ",
                      "ru": "сервер отказал во входе: "},
            "recipient": {"en": "recipient refused: owner@example.com: 550 ",
                          "tr": "alıcı reddedildi: owner@example.com: 550 ",
                          "ru": "получатель отклонён: owner@example.com: 550 "},
            "unreachable": {"en": "connection refused: nothing listens on that host and port (",
                            "tr": "bağlantı reddedildi: bu ana bilgisayar ve bağlantı noktasında dinleyen bir şey yok (",
                            "ru": "в соединении отказано: на этом хосте и порту ничего не слушает ("},
            "dropped": {"en": "the connection broke while the message was handed over (",
                        "tr": "ileti teslim edilirken bağlantı koptu (",
                        "ru": "соединение оборвалось во время передачи письма ("}}[fault]
    settings.SIMULATOR_HOSTS = ["127.0.0.1"]
    port = smtp_server.port
    if fault == "unreachable":
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
    store = Store.objects.create(name="Mağaza A")
    smtp_server.box.users = {"shop@example.com": "right-password"}
    Connection.objects.create(store=store, service="smtp", options={
        "host": "127.0.0.1", "port": port, "security": "none", "from_email": "shop@example.com"},
        secret={"username": "shop@example.com",
                "password": "wrong-password" if fault == "login" else "right-password"})
    if fault == "recipient":
        smtp_server.box.faults = ["rcpt_550"]
    if fault == "dropped":
        smtp_server.box.faults = ["drop_after_data"]
    user = User.objects.create_superuser("ayse", password="x")
    route = AlertRoute.objects.create(user=user, store=store, channel="email", target="owner@example.com")
    client = Client()
    client.force_login(user)
    client.post(reverse("dashboard:alert-test", args=[route.pk]))
    with translation.override("tr"):
        run_until_idle()
    for lang in ("en", "tr", "ru"):
        client.cookies["django_language"] = lang
        page = html.unescape(client.get(reverse("dashboard:alerts")).content.decode())
        line = page[page.index("owner@example.com"):][:1500]  # the route's row
        assert said[lang] in line, (lang, line)


@pytest.mark.parametrize("case", ["bad token", "no bot", "no sender", "no host nor sender"])
def test_a_test_message_whose_settings_cannot_work_reads_in_the_readers_language(settings, case):
    """A route whose channel is set up wrong: the store's Telegram bot token is not one @BotFather gives, no Telegram
    bot is set at all, the store's mail server has no sender address. The route's "Test:" line (or, where nothing was
    handed to the outbox, the job's page) says it in each reader's language; the job runs in a Turkish worker."""
    import html

    from django.utils import translation

    from ocbridge.core.models import Connection, Job

    said = {"bad token": {"en": "the bot token does not look like one from @BotFather",
                          "tr": "bot belirteci @BotFather'ın verdiği biçimde görünmüyor",
                          "ru": "токен бота не похож на выданный @BotFather"},
            "no bot": {"en": "no Telegram bot is set for this store or the hub any more",
                       "tr": "bu mağaza veya merkez için artık bir Telegram botu ayarlı değil",
                       "ru": "для этого магазина или хаба больше не настроен Telegram-бот"},
            "no sender": {"en": "the sender address (from_email) is missing",
                          "tr": "gönderen adresi (from_email) eksik",
                          "ru": "не указан адрес отправителя (from_email)"},
            "no host nor sender": {"en": "the SMTP host is missing; the sender address (from_email) is missing",
                                   "tr": "SMTP sunucu adresi eksik; gönderen adresi (from_email) eksik",
                                   "ru": "не указан SMTP-сервер; не указан адрес отправителя (from_email)"}}[case]
    settings.TELEGRAM_BOT_TOKEN = ""
    store = Store.objects.create(name="Mağaza A")
    user = User.objects.create_superuser("ayse", password="x")
    if case in ("no sender", "no host nor sender"):
        host = "" if case == "no host nor sender" else "smtp.example.com"
        Connection.objects.create(store=store, service="smtp", options={"host": host, "port": 587}, secret={})
        route = AlertRoute.objects.create(user=user, store=store, channel="email", target="owner@example.com")
    else:
        if case == "bad token":
            Connection.objects.create(store=store, service="telegram", secret={"bot_token": "not-a-token"})
        route = AlertRoute.objects.create(user=user, store=store, channel="telegram", target="424242")
    client = Client()
    client.force_login(user)
    client.post(reverse("dashboard:alert-test", args=[route.pk]))
    with translation.override("tr"):
        run_until_idle()
    job = Job.objects.get(key__startswith="alert-test:")
    assert job.state == "failed" and said["en"] in job.last_error, job.last_error
    for lang in ("en", "tr", "ru"):
        client.cookies["django_language"] = lang
        url = reverse("dashboard:job", args=[job.pk]) if case == "no bot" else reverse("dashboard:alerts")
        page = html.unescape(client.get(url).content.decode())
        assert said[lang] in page, (lang, page)


class Killed(BaseException):
    """What SIGKILL does to a run, in-process: it stops where it is, records nothing, its claim stays."""


def test_a_test_message_left_unknown_by_a_lost_run_reads_in_the_readers_language(settings, monkeypatch):
    """The route's test message was begun (outbox row "sending") and its worker died before an answer came: the next
    run cannot ask Telegram whether it arrived, so the row is left unknown, never sent twice. The route's "Test:" line
    says why (SideEffect.error_said, core.outbox) in each reader's language. The real job, run in a Turkish worker."""
    import html

    from django.utils import translation

    from ocbridge.core import clock, telegram
    from ocbridge.core.jobs import JobKind

    with TelegramSimulator() as tg:
        tg.add_chat(424242)
        settings.TELEGRAM_BOT_TOKEN, settings.TELEGRAM_API_URL = tg.token, tg.base_url
        client = Client()
        client.force_login(User.objects.create_superuser("ayse", password="x"))
        assert client.post(reverse("dashboard:alerts"), {
            "store": "", "channel": "telegram", "target": "424242", "digest_minutes": 30, "waiting_minutes": 45,
            "enabled": "on", "sources": ["failing"]}).status_code == 302

        def dies_while_sending(*args, **kwargs):
            raise Killed()

        monkeypatch.setattr(telegram, "send", dies_while_sending)
        client.post(reverse("dashboard:alert-test", args=[AlertRoute.objects.get().pk]))
        with pytest.raises(Killed):
            run_until_idle()
        monkeypatch.undo()
        clock.travel(JobKind.claim_seconds + 1)
        with translation.override("tr"):
            run_until_idle()
        effect = SideEffect.objects.get(key__startswith="alert-test:")
        assert effect.state == "unknown" and effect.error == "the run sending it was lost"  # English, for logs
        said = {"en": "the run sending it was lost", "tr": "onu gönderen çalıştırma kayboldu",
                "ru": "запуск, который его отправлял, потерян"}
        for lang in ("en", "tr", "ru"):
            client.cookies["django_language"] = lang
            page = html.unescape(client.get(reverse("dashboard:alerts")).content.decode())
            assert said[lang] in page, (lang, page)
