"""A connection's "Test" that works says so in the reader's language: the message after the click on the store page,
for every service with a check (telephony and WhatsApp through cod_confirm, OneBox, Despatch Cloud, and the payment
gateways). The real button (dashboard:connection-test) against each provider's loopback simulator; the provider's own
words (sender names, account name, amount range) stay as they came."""

from __future__ import annotations

import html
import re

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from ocbridge.core.models import Connection, Integration, Store

pytestmark = pytest.mark.django_db
SID, TOKEN = "AC" + "1" * 32, "token-0123456789abcdef"

# The parts of the message each reader reads (all of them, in that language, and none of another's).
SAID = {
    "sandbox": {"en": ["Sandbox accepted the token"], "tr": ["Sandbox anahtarı kabul etti"],
                "ru": ["Sandbox принял токен"]},
    "netgsm": {"en": ["Netgsm accepted the account; sender names: SHOP"],
               "tr": ["Netgsm hesabı kabul etti; gönderici adları: SHOP"],
               "ru": ["Netgsm принял аккаунт; имена отправителя: SHOP"]},
    "twilio": {"en": ["Twilio account "], "tr": ["Twilio hesabı "], "ru": ["аккаунт Twilio "]},
    "verimor": {"en": ["SMS account OK, balance ", "; PBX key OK"],
                "tr": ["SMS hesabı çalışıyor, bakiye ", "; santral (PBX) anahtarı çalışıyor"],
                "ru": ["SMS-аккаунт в порядке, баланс ", "; ключ АТС (PBX) в порядке"]},
    "whatsapp": {"en": ["WhatsApp number ", ") answers"], "tr": ["WhatsApp numarası ", ") yanıt veriyor"],
                 "ru": ["номер WhatsApp ", ") отвечает"]},
    "onebox": {"en": ["OneBox: logged in; business processes: "], "tr": ["OneBox: giriş yapıldı; iş süreçleri: "],
               "ru": ["OneBox: вход выполнен; бизнес-процессы: "]},
    "despatch": {"en": ["Despatch Cloud: logged in; 0 orders in the account."],
                 "tr": ["Despatch Cloud: giriş yapıldı; hesapta 0 sipariş var."],
                 "ru": ["Despatch Cloud: вход выполнен; заказов в аккаунте: 0."]},
    "aps": {"en": ["credentials accepted (", "); nothing was charged"],
            "tr": ["bilgiler kabul edildi (", "); hiçbir tutar çekilmedi"],
            "ru": ["учётные данные приняты (", "); ничего не списано"]},
}
SAID["latitudepay"] = SAID["aps"]


def _setup(service: str):
    """(simulator, secret, options) for a connection that works."""
    if service == "verimor":
        from ocbridge.simulators.verimor import VerimorSimulator

        return VerimorSimulator(api_key="K1", sms_username="908501234567", sms_password="sms-pass-1234", speed=200), \
            {"key": "K1", "username": "908501234567", "password": "sms-pass-1234"}, {}
    if service == "netgsm":
        from ocbridge.simulators.netgsm import NetgsmSimulator

        return NetgsmSimulator(usercode="8503001122", password="netgsm-pass-5678", msgheaders=("SHOP",), speed=200), \
            {"usercode": "8503001122", "password": "netgsm-pass-5678"}, {"msgheader": "SHOP"}
    if service == "twilio":
        from ocbridge.simulators.twilio import TwilioSimulator

        return TwilioSimulator(account_sid=SID, auth_token=TOKEN, numbers=("+902129630131",), speed=200), \
            {"account_sid": SID, "auth_token": TOKEN}, {"from_number": "+902129630131"}
    if service == "whatsapp":
        from ocbridge.simulators.whatsapp import WhatsAppSimulator

        return WhatsAppSimulator(token=TOKEN, app_secret="app-secret-1", speed=200, review_delay=10 ** 7), \
            {"access_token": TOKEN, "app_secret": "app-secret-1"}, None
    if service == "onebox":
        from ocbridge.simulators.onebox import OneBoxSimulator

        return OneBoxSimulator(login="api@box.example", password="box-pw"), \
            {"login": "api@box.example", "password": "box-pw"}, {}
    if service == "despatch":
        from ocbridge.simulators.despatch import DespatchSimulator

        return DespatchSimulator(email="api@shop.example", password="dc-pw"), \
            {"email": "api@shop.example", "password": "dc-pw"}, {}
    if service == "aps":
        from paykit import CREDS

        from ocbridge.simulators.aps import ApsSimulator

        return ApsSimulator(speed=1000), dict(CREDS), {"sha_type": "sha256"}
    if service == "latitudepay":
        from ocbridge.simulators.latitudepay import LatitudeSimulator

        return LatitudeSimulator(speed=1000), {"api_key": "lp-key", "api_secret": "lp-secret"}, {"currency": "AUD"}
    from ocbridge.simulators.sandbox import SandboxSimulator

    return SandboxSimulator(token=TOKEN, speed=200), {"token": TOKEN, "webhook_secret": "whsec-abcdef"}, {}


@pytest.mark.parametrize("service", list(SAID))
def test_a_test_that_works_reads_in_each_readers_language(service, settings):
    settings.SIMULATOR_HOSTS = ["127.0.0.1"]
    if service == "latitudepay":
        from ocbridge.services import latitudepay

        latitudepay.forget_tokens()
    sim, secret, options = _setup(service)
    with sim:
        if options is None:
            options = {"phone_number_id": sim.phone_number_id, "waba_id": sim.waba_id}
        store = Store.objects.create(name="Shop")
        conn = Connection.objects.create(store=store, service=service, base_url=sim.base_url, secret=secret,
                                         options=options)
        if service in ("aps", "latitudepay"):
            Integration.objects.create(store=store, kind=service, connection=conn, settings={})
        client = Client()
        client.force_login(User.objects.create_superuser("owner", password="pw"))
        for lang in ("en", "tr", "ru"):
            client.cookies["django_language"] = lang
            page = html.unescape(client.post(reverse("dashboard:connection-test", args=[conn.pk]), follow=True)
                                 .content.decode())
            message = re.search(r'<ul class="messages".*?</ul>', page, re.S).group(0)
            assert "msg-success" in message, message
            for part in SAID[service][lang]:
                assert part in message, (lang, message)
            for other in {"en", "tr", "ru"} - {lang}:
                for part in SAID[service][other]:
                    assert part not in message or part in SAID[service][lang], (lang, message)
