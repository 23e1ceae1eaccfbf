"""The store's spending page: today's use against the caps, balances, and the owner's caps and prices — each
wrong price line refused with its line number, nothing half-saved; viewers read, owners change (audited)."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from ocbridge.core import spend
from ocbridge.core.models import AuditEntry, SpendPolicy, Store, StoreMember

pytestmark = pytest.mark.django_db


def _client(store, role):
    user = User.objects.create_user(role, password="x")
    StoreMember.objects.create(store=store, user=user, role=role)
    c = Client()
    c.force_login(user)
    return c


def test_owner_sets_caps_and_prices_with_clear_errors_and_a_viewer_only_reads():
    store = Store.objects.create(name="Mağaza A", currency="TRY")
    owner, viewer = _client(store, "owner"), _client(store, "viewer")
    url = reverse("dashboard:spending", args=[store.pk])
    bad = owner.post(url, {"sms_cap": "100", "cost_cap": "-1", "price_lines": "netgsm sms 0.06\nfoo sms 1\nnetgsm fax 1\n"
                                                                                "netgsm call abc\nverimor call"})
    text = bad.content.decode()
    assert bad.status_code == 200 and not SpendPolicy.objects.exists()
    for expected in ("Line 2: foo is not a provider", "Line 3: the channel is call, sms or whatsapp",
                     "Line 4: abc is not a price", "Line 5: write the provider, the channel and the price"):
        assert expected in text, expected
    ok = owner.post(url, {"sms_cap": "100", "cost_cap": "250.00", "credit_low": "50",
                          "price_lines": "netgsm sms 0,06\nverimor call 0.35"})
    assert ok.status_code == 302
    policy = SpendPolicy.objects.get(store=store)
    assert (policy.sms_cap, policy.cost_cap, policy.prices) == (100, Decimal("250.00"), {
        "netgsm": {"sms": "0.06"}, "verimor": {"call": "0.35"}})
    assert spend.price(policy, "netgsm", "sms") == Decimal("0.06")
    assert AuditEntry.objects.filter(action="spend.update", store=store).count() == 1
    page = viewer.get(url).content.decode()
    assert "netgsm sms 0.06" not in page and "100" in page  # the viewer sees the caps, not the form
    assert viewer.post(url, {"sms_cap": "1"}).status_code == 403
    assert SpendPolicy.objects.get(store=store).sms_cap == 100


@pytest.mark.parametrize("lang, said", [("tr", "sunucu hatası (HTTP 503): Service Unavailable"),
                                        ("ru", "ошибка сервера (HTTP 503): Service Unavailable"),
                                        ("en", "server error (HTTP 503): Service Unavailable")])
def test_a_failing_balance_reading_reads_in_the_readers_language(lang, said):
    """Verimor answering 503 to the balance poll (the real routine poll, in a Turkish worker, against the loopback
    Verimor simulator): the spending page says it in the reader's language (ProviderBalance.error_said)."""
    import html

    from django.utils import translation

    from ocbridge.core import polls
    from ocbridge.core.models import Connection, ProviderBalance
    from ocbridge.integrations.cod_confirm import balances
    from ocbridge.simulators.verimor import VerimorSimulator

    store = Store.objects.create(name="Mağaza B", currency="TRY")
    with VerimorSimulator(api_key="K1", sms_username="908501234567", sms_password="sms-pass-1234", speed=200) as sim:
        conn = Connection.objects.create(store=store, service="verimor", base_url=sim.base_url,
                                         secret={"username": "908501234567", "password": "sms-pass-1234"})
        sim.fail_next("503", count=5)
        with translation.override("tr"):
            polls.run_one(balances.POLL, balances.polls_key(conn.pk))
    assert ProviderBalance.objects.get(connection=conn).error == "server error (HTTP 503): Service Unavailable"
    owner = _client(store, "owner")
    owner.cookies["django_language"] = lang
    page = html.unescape(owner.get(reverse("dashboard:spending", args=[store.pk])).content.decode())
    assert said in page, page


def test_a_balance_without_an_sms_account_reads_in_the_readers_language():
    """A Verimor connection with only its PBX key has no SMS balance to read: the balance poll (run in a Turkish
    worker) keeps why, and the spending page says it in the reader's language."""
    import html

    from django.utils import translation

    from ocbridge.core import polls
    from ocbridge.core.models import Connection
    from ocbridge.integrations.cod_confirm import balances

    said = {"en": "no SMS account (username) is set", "tr": "SMS hesabı (kullanıcı adı) girilmemiş",
            "ru": "не указан SMS-аккаунт (имя пользователя)"}
    store = Store.objects.create(name="Mağaza C", currency="TRY")
    conn = Connection.objects.create(store=store, service="verimor", base_url="https://127.0.0.1:9/",
                                     secret={"key": "K1"})
    with translation.override("tr"):
        polls.run_one(balances.POLL, balances.polls_key(conn.pk))
    owner = _client(store, "owner")
    for lang in ("en", "tr", "ru"):
        owner.cookies["django_language"] = lang
        page = html.unescape(owner.get(reverse("dashboard:spending", args=[store.pk])).content.decode())
        assert said[lang] in page, (lang, page)
