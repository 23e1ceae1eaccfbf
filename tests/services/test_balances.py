"""Provider balances read from each provider's documented method, against the simulators (which answer as the
sources say): Netgsm `POST /balance` stip 2 (official netgsm-sms-js checkBalance and its tests: `{"code": "00",
"balance": "57,860"}`), Verimor `GET /v2/balance` (verimor/SMS-API user_guide.md: a bare number), Twilio
`Balance.json` (official twilio package, rest/api/v2010/account/balance.py). Then the half-hourly reading, the
threshold the owner sets, and the provider's words when a reading fails."""

from decimal import Decimal

import pytest

from ocbridge.core import attention
from ocbridge.core.errors import TerminalError
from ocbridge.core.jobs import run_until_idle
from ocbridge.core.models import Exchange, Job, ProviderBalance, SpendPolicy, Store
from ocbridge.integrations.cod_confirm import balances
from ocbridge.services.netgsm import NetgsmClient
from ocbridge.services.twilio import TwilioClient
from ocbridge.services.verimor import VerimorClient
from ocbridge.simulators.netgsm import NetgsmSimulator
from ocbridge.simulators.twilio import TwilioSimulator
from ocbridge.simulators.verimor import VerimorSimulator
from contracts.conftest import assert_listed
from services.conftest import exchange_text

pytestmark = pytest.mark.django_db


def test_netgsm_balance_is_lira_with_a_decimal_comma_and_the_password_stays_out_of_the_log(make_conn):
    with NetgsmSimulator(usercode="8503001122", password="ng-S3cret-99") as sim:
        sim.set_credit("1234.50")
        conn = make_conn("netgsm", sim.base_url, {"usercode": "8503001122", "password": "ng-S3cret-99"})
        assert NetgsmClient(conn).balance() == (Decimal("1234.50"), "TRY")
        body = sim.requests("/balance")[0].json()
        assert (body["usercode"], body["stip"]) == ("8503001122", 2)  # the fields checkBalance sends
        ex = Exchange.objects.get(purpose="netgsm.balance")
        assert "ng-S3cret-99" not in exchange_text(ex)
        conn.secret = {"usercode": "8503001122", "password": "wrong"}
        with pytest.raises(TerminalError) as err:
            NetgsmClient(conn).balance()
        assert err.value.code == "30"
        assert_listed("netgsm", sim.requests())


def test_verimor_balance_is_sms_credits(make_conn):
    with VerimorSimulator(sms_username="908501234567", sms_password="vp") as sim:
        sim.set_credits(4532)
        conn = make_conn("verimor", sim.base_url, {"username": "908501234567", "password": "vp"})
        assert VerimorClient(conn).balance() == (Decimal(4532), "credits")
        conn.secret = {"username": "908501234567", "password": "no"}
        with pytest.raises(TerminalError) as err:
            VerimorClient(conn).balance()
        assert err.value.code == 401
        assert_listed("verimor", sim.requests())


def test_twilio_balance_in_the_accounts_currency(make_conn):
    sid = "AC" + "1" * 32
    with TwilioSimulator(account_sid=sid, auth_token="tw-token") as sim:
        sim.set_balance("3.21", "USD")
        conn = make_conn("twilio", sim.base_url, {"account_sid": sid, "auth_token": "tw-token"})
        assert TwilioClient(conn).balance() == (Decimal("3.21"), "USD")
        assert_listed("twilio", sim.requests())


def test_a_balance_under_the_owners_threshold_is_told_and_a_failed_reading_keeps_the_last_amount(make_conn):
    with NetgsmSimulator(usercode="8503001122", password="pw") as sim:
        sim.set_credit("57.86")
        conn = make_conn("netgsm", sim.base_url, {"usercode": "8503001122", "password": "pw"})
        SpendPolicy.objects.create(store=conn.store, credit_low=Decimal("100"))
        Job.objects.enqueue(balances.ReadBalances, key="balances:1")
        run_until_idle()
        row = ProviderBalance.objects.get(connection=conn)
        assert (row.amount, row.unit, row.error) == (Decimal("57.86"), "TRY", "")
        (item,) = [a for a in attention.needs_attention(Store.objects.filter(pk=conn.store_id))
                   if a.key == "core.credit_low"]
        assert "57.86 TRY" in item.text
        conn.secret = {"usercode": "8503001122", "password": "changed"}
        conn.save()
        balances.read(conn)
        row.refresh_from_db()
        assert row.amount == Decimal("57.86") and row.error  # Netgsm's refusal kept, the last amount too
        SpendPolicy.objects.filter(store=conn.store).update(credit_low=Decimal("50"))
        assert not [a for a in attention.needs_attention(Store.objects.filter(pk=conn.store_id))
                    if a.key == "core.credit_low"]


def test_a_balance_that_did_not_change_writes_nothing_and_a_change_is_written_once(make_conn):
    """The half-hourly reading is a routine poll per account (core.polls), not a Job: the same amount again writes
    nothing to the hub (no row, no Job, no Exchange), and the page's "read at" still moves (the lease store)."""
    from testkit import HubWrites

    from ocbridge.core import clock, polls

    with NetgsmSimulator(usercode="8503001122", password="pw") as sim:
        sim.set_credit("57.86")
        conn = make_conn("netgsm", sim.base_url, {"usercode": "8503001122", "password": "pw"})
        assert polls.run_all(balances.POLL) == 1
        row = ProviderBalance.objects.get(connection=conn)
        first, jobs, logged = balances.read_at(row), Job.objects.count(), Exchange.objects.count()
        assert row.amount == Decimal("57.86") and logged == 1  # the reading that told it is logged
        writes = []
        for _ in range(4):
            clock.travel(balances.EVERY)
            with HubWrites() as w:
                assert polls.run_all(balances.POLL) == 1
            writes += w.sql
        # Only the connection's "last OK", which every routine read keeps at most an hour old (core.exchanges).
        assert all(q.startswith('UPDATE "core_connection" SET "last_ok_at"') for q in writes), writes
        assert len(writes) <= 2
        assert len(sim.requests("/balance")) == 5 and (Job.objects.count(), Exchange.objects.count()) == (jobs, logged)
        assert (balances.read_at(row) - first).total_seconds() >= 4 * balances.EVERY
        sim.set_credit("40")
        clock.travel(balances.EVERY)
        with HubWrites() as w:
            polls.run_all(balances.POLL)
        row.refresh_from_db()
        assert row.amount == Decimal("40") and len([q for q in w.sql if "providerbalance" in q.lower()]) == 1
        assert Exchange.objects.count() == logged + 1
