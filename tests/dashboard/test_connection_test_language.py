"""A connection's "Test" that works says so in the reader's language: the message after the click on the store page,
for every service with a check (telephony and WhatsApp through cod_confirm, OneBox, Despatch Cloud, and the payment
gateways). The real button (dashboard:connection-test) against each provider's loopback simulator; the provider's own
words (sender names, account name, amount range) stay as they came."""

from __future__ import annotations

import pytest
from testkit import LANGS, connection_test_shown, simulated_connection

from ocbridge.core.models import Integration, Store

pytestmark = pytest.mark.django_db

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
                 "ru": ["Despatch Cloud: вход выполнен; в аккаунте 0 заказов."]},
    "aps": {"en": ["credentials accepted (", "); nothing was charged"],
            "tr": ["bilgiler kabul edildi (", "); hiçbir tutar çekilmedi"],
            "ru": ["учётные данные приняты (", "); ничего не списано"]},
}
SAID["latitudepay"] = SAID["aps"]


@pytest.mark.parametrize("service", list(SAID))
def test_a_test_that_works_reads_in_each_readers_language(service, settings):
    settings.SIMULATOR_HOSTS = ["127.0.0.1"]
    if service == "latitudepay":
        from ocbridge.services import latitudepay

        latitudepay.forget_tokens()
    store = Store.objects.create(name="Shop")
    with simulated_connection(service, store) as (_sim, conn):
        if service in ("aps", "latitudepay"):
            Integration.objects.create(store=store, kind=service, connection=conn, settings={})
        for lang in LANGS:
            message, _row = connection_test_shown(conn, lang)
            assert "msg-success" in message, message
            for part in SAID[service][lang]:
                assert part in message, (lang, message)
            for other in set(LANGS) - {lang}:
                for part in SAID[service][other]:
                    assert part not in message or part in SAID[service][lang], (lang, message)
