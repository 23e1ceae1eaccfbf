"""Alerts outside the dashboard (core.alerts): per user and per store, by Telegram (the Bot API simulator,
src/ocbridge/simulators/telegram.py, written from https://core.telegram.org/bots/api) and by e-mail (aiosmtpd on
loopback), in digests, each message once through the outbox."""

import datetime as dt

import pytest
from django.contrib.auth.models import User

from ocbridge.core import alerts, clock
from ocbridge.core.jobs import run_until_idle
from ocbridge.core.models import AlertCondition, AlertRoute, Connection, Exchange, Job, SideEffect, Store, StoreMember
from ocbridge.simulators.telegram import TelegramSimulator

pytestmark = pytest.mark.django_db
CHAT = 5512345678


@pytest.fixture
def tg(settings):
    with TelegramSimulator() as sim:
        sim.add_chat(CHAT)
        settings.TELEGRAM_BOT_TOKEN, settings.TELEGRAM_API_URL = sim.token, sim.base_url
        yield sim


def owner(name, *stores):
    user = User.objects.create_user(name, password="x")
    for s in stores:
        StoreMember.objects.create(store=s, user=user, role="owner")
    return user


def tick(minutes=1):
    """One minute of the hub: the scan and digest job, then the messages it queued."""
    clock.travel(minutes * 60)
    alerts.scan()
    alerts.digest()
    run_until_idle()


def test_a_flapping_connection_sends_one_message_per_digest_not_hundreds(tg):
    a, b = Store.objects.create(name="Mağaza A"), Store.objects.create(name="Mağaza B")
    user = owner("ayse", a)  # sees A only
    AlertRoute.objects.create(user=user, channel="telegram", target=str(CHAT), digest_minutes=60)
    ca = Connection.objects.create(store=a, service="netgsm", name="Netgsm A")
    cb = Connection.objects.create(store=b, service="netgsm", name="Netgsm B")
    cb.mark_error("netgsm: 30: Geçersiz kullanıcı adı , şifre veya kullanıcınızın API erişim izni yok")
    for i in range(100):  # the connection fails and recovers every minute for 100 minutes
        if i % 2 == 0:
            ca.mark_error("netgsm: 70: Hatalı sorgulama. Gönderdiğiniz parametrelerden birisi hatalı")
        else:
            ca.mark_ok()
        tick()
    messages = tg.messages(CHAT)
    assert len(messages) == 2  # the first failure at once, then one digest an hour later
    first, second = messages[0]["text"], messages[1]["text"]
    assert "Netgsm A" in first and "Hatalı sorgulama" in first  # the provider's own words
    assert "Netgsm B" not in first + second  # B is not this user's store
    assert "31 kez oldu" in second  # at minute 61, in the store's language (tr): "happened 31 times"
    cond = AlertCondition.objects.get(store=a, key="core.connections_failing")
    assert cond.times == 50 and cond.subject == f"connection:{ca.pk}"
    assert SideEffect.objects.filter(service="telegram", state="sent").count() == 2
    ex = Exchange.objects.filter(service="telegram").first()
    assert tg.token not in ex.url and tg.token.split(":")[1] not in ex.url  # the bot token never in the log
    job = Job.objects.filter(kind=alerts.SendAlert.kind).first()
    alerts.SendAlert().run(job)  # a repeated run: the outbox row is sent, nothing goes again
    assert len(tg.messages(CHAT)) == 2
    from contracts.conftest import assert_listed

    assert_listed("telegram", tg.requests())


def test_orders_waiting_longer_than_the_owners_limit_go_by_mail_only_to_who_asked(hub_mail, tg):
    from ocbridge.core.models import Integration
    from ocbridge.integrations.cod_confirm.models import Confirmation

    store = Store.objects.create(name="Mağaza A", timezone="Europe/Istanbul", language="tr")
    integ = Integration.objects.create(store=store, kind="cod_confirm")
    boss, ops = owner("boss", store), owner("ops", store)
    AlertRoute.objects.create(user=boss, store=store, channel="email", target="boss@example.com",
                              sources=["waiting"], waiting_minutes=30)
    AlertRoute.objects.create(user=ops, store=store, channel="telegram", target=str(CHAT), sources=["failing"])
    Confirmation.objects.create(store=store, integration=integ, order_id=7, order_label="#7", status_at_start=1,
                                state="needs_person", updated=clock.now())
    tick(10)
    assert hub_mail.messages == []  # waiting 10 minutes: under the limit
    tick(25)
    (msg,) = hub_mail.messages
    body = msg.get_payload(decode=True).decode()
    assert msg["To"] == "boss@example.com" and "30" in body and "Mağaza A" in body
    assert tg.messages(CHAT) == []  # ops asked for failing connections only
    tick(120)
    assert len(hub_mail.messages) == 1  # still the same waiting order: no news, no new mail


def test_telegram_refusal_is_kept_with_its_words_and_flood_control_is_retried(tg, settings):
    store = Store.objects.create(name="Mağaza A")
    user = owner("ayse", store)
    AlertRoute.objects.create(user=user, channel="telegram", target="999")  # the user never started the bot
    AlertRoute.objects.create(user=user, channel="telegram", target=str(CHAT))
    Connection.objects.create(store=store, service="verimor").mark_error("verimor: 401: Kimlik doğrulama hatası")
    tg.fail_next("429", path=f"/bot{tg.token}/sendMessage")
    clock.travel(60)
    alerts.scan()
    alerts.digest()
    for _ in range(4):
        run_until_idle()
        clock.travel(120)
    refused = SideEffect.objects.get(key__startswith=f"alert:{AlertRoute.objects.get(target='999').pk}:")
    assert refused.state == "failed" and "chat not found" in refused.error
    assert len(tg.messages(CHAT)) == 1 and "Kimlik doğrulama hatası" in tg.messages(CHAT)[0]["text"]


def test_a_stores_own_bot_token_is_encrypted_and_its_url_checked(tg, settings):
    from django.db import connection as db

    from ocbridge.core import telegram

    store = Store.objects.create(name="Mağaza A")
    settings.SIMULATOR_HOSTS = []
    conn = Connection.objects.create(store=store, service="telegram", base_url=tg.base_url,
                                     secret={"bot_token": tg.token})
    with db.cursor() as cur:
        cur.execute("SELECT secret FROM core_connection WHERE id = %s", [conn.pk])
        assert tg.token not in cur.fetchone()[0]
    bot = telegram.bot_for(store)
    assert bot.connection == conn and telegram.problems(bot)  # a loopback http host: not Telegram's
    with pytest.raises(Exception, match="https"):
        telegram.check(bot, store=store)
    assert tg.requests() == []  # refused before the token went anywhere
    settings.SIMULATOR_HOSTS = [tg.base_url.split("//")[1]]
    assert telegram.problems(bot) == [] and telegram.check(bot, store=store) == "@ocbridge_bot"
    tick()  # nothing to tell: no message
    from contracts.conftest import assert_listed

    assert_listed("telegram", tg.requests())


def test_a_shop_database_that_stops_answering_and_a_key_about_to_expire_are_told(tg):
    from ocbridge.core import polls
    from ocbridge.core.models import Integration, PollHealth
    from ocbridge.opencart.models import PollState

    store = Store.objects.create(name="Mağaza A", db_host="127.0.0.1", db_port=1, db_user="oc", db_name="shop",
                                 version="3.0", language="en")
    Integration.objects.create(store=store, kind="cod_confirm")
    PollState.objects.create(store_db_key=store.db_key, last_order_id=10)  # it was read before
    Connection.objects.create(store=store, service="ozon", name="Ozon",
                              options={"expires_on": (clock.now() + dt.timedelta(days=10)).date().isoformat()})
    Connection.objects.create(store=store, service="netgsm", options={"expires_on": "2099-01-01"})  # far away
    AlertRoute.objects.create(user=owner("ayse", store), channel="telegram", target=str(CHAT),
                              sources=["shop", "expiry"])
    polls.run_all("opencart.shop")
    state = PollHealth.objects.get(poll="opencart.shop", key=store.db_key)
    assert state.failing_since is not None and "refused" in state.last_error
    tick()
    (msg,) = tg.messages(CHAT)
    assert "the shop database does not answer: Shop database not reachable (connection refused" in msg["text"]
    assert "Ozon" in msg["text"] and "in 10 days" in msg["text"] and "netgsm" not in msg["text"].lower()
    assert {c.source for c in AlertCondition.objects.all()} == {"shop", "expiry"}


def test_a_route_with_a_language_gets_its_digest_in_it_and_the_others_in_the_stores(hub_mail, tg):
    """A Turkish store; its owner reads Russian (the route's language), the operator the store's language: one
    digest each, each wholly in its reader's language — the condition's line too, the provider's refusal said
    (core.sentences) included. An evaluation per language asked for; none for a route without one."""
    from email.header import decode_header, make_header

    from ocbridge.core.errors import RetryableError, rate_limited
    from ocbridge.core.sentences import said_data

    store = Store.objects.create(name="Mağaza A", timezone="Europe/Istanbul", language="tr")
    boss, ops = owner("boss", store), owner("ops", store)
    AlertRoute.objects.create(user=boss, store=store, channel="email", target="boss@example.com", language="ru",
                              sources=["failing"])
    AlertRoute.objects.create(user=ops, store=store, channel="telegram", target=str(CHAT), sources=["failing"])
    conn = Connection.objects.create(store=store, service="ozon", name="Ozon A")
    refused = RetryableError("ozon", 429, rate_limited("You have reached request rate limit per second (8)"))
    conn.mark_error(str(refused), rate_limited=True, said=said_data(refused))
    tick()
    (msg,) = hub_mail.messages
    body, subject = msg.get_payload(decode=True).decode(), str(make_header(decode_header(msg["Subject"])))
    assert subject.startswith("ocbridge: 1 вопрос требует вас"), subject
    assert "Ozon A (Mağaza A) не работает: Ozon отвечает «превышен лимит запросов: You have reached" in body, body
    [tr] = tg.messages(CHAT)
    assert "Ozon A (Mağaza A) hata veriyor: Ozon diyor ki “istek sınırı aşıldı: You have reached" in tr["text"]
    assert "ocbridge: 1 konu sizi bekliyor" in tr["text"]
    failing = AlertCondition.objects.get(key="core.connections_failing")
    assert failing.text.startswith("Ozon A (Mağaza A) hata veriyor")  # kept in the store's language, and in the route's
    assert failing.texts["ru"].startswith("Ozon A (Mağaza A) не работает") and set(failing.texts) == {"ru"}
