"""ApsClient and the APS simulator against Amazon Payment Services' own documents.

Sources:
- [SIG] APS "Signature" page (paymentservices.amazon.com/docs/developer-resources/signature; payments.md A2): its two
  worked examples (PURCHASE request and TOKENIZATION request, SHA Request Phrase "PASS", SHA-256) with their
  published signatures; and the official PHP SDK payfort/payfort-php-sdk `Core/APSSignature.php` (ksort, phrase +
  name=value… + phrase, hash with the configured type).
- [AMT] payments.md A3 (the official OpenCart 3 plugin's getCurrencyDecimalPoints / convertGatewayAmount).
- [API] payments.md A4/A5 and the PHP SDK's Model/Maintenance/*: required parameters of CHECK_STATUS (query_command,
  merchant_reference, language), REFUND / CAPTURE (command, merchant_reference, amount, currency, language,
  optional maintenance_reference, fort_id), VOID_AUTHORIZATION; success codes 12000 / 06000 / 04000 / 08000,
  12036 unknown reference; 00008 signature mismatch.
- [SIM] simulator only: no public source shows it (messages of refused maintenance commands, on-hold answers to
  maintenance, what CHECK_STATUS's transaction_status says after a maintenance command).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from ocbridge.core.errors import ConfigurationError, RetryableError, TerminalError
from ocbridge.core.models import Connection, Exchange, Store
from ocbridge.services import aps
from ocbridge.simulators.aps import ApsSimulator, sign

from .conftest import assert_listed

pytestmark = pytest.mark.django_db

DOC_PURCHASE = {"command": "PURCHASE", "merchant_reference": "Test010", "amount": "1000",
                "access_code": "SILgpo7pWbmzuURp2qri", "merchant_identifier": "MxvOupuG", "currency": "USD",
                "language": "en", "customer_email": "test@gmail.com"}
DOC_TOKENIZATION = {"service_command": "TOKENIZATION", "language": "en", "merchant_identifier": "MxvOupuG",
                    "access_code": "SILgpo7pWbmzuURp2qri", "merchant_reference": "MyReference0001"}


def test_signature_matches_the_documents_worked_examples():
    """[SIG] both published examples, by our client and by the simulator (written apart)."""
    want = "94C38AFC7BDAE0114FC8C740EDF12416F22998241CE4B4EA70D5521233A2C882".lower()
    assert aps.signature(DOC_PURCHASE, "PASS") == want == sign(DOC_PURCHASE, "PASS")
    want = "7EE560CCD621DA61BFC772F2F1B5849BABDA768F5EE36D4DE67EFA88403E4B99".lower()
    assert aps.signature(DOC_TOKENIZATION, "PASS") == want
    assert aps.verify({**DOC_PURCHASE, "signature": want.upper()}, "PASS") is False
    assert aps.verify({**DOC_TOKENIZATION, "signature": want.upper()}, "PASS")  # case-insensitive compare


@pytest.mark.parametrize("sha_type", ["sha256", "sha512", "hmac_sha256", "hmac_sha512"])
def test_every_sha_type_agrees_with_the_simulator_and_the_phrase_matters(sha_type):
    """[SIG] SHA type as set in APS's back office; the plugin's HMAC modes key the HMAC with the phrase."""
    ours = aps.signature(DOC_PURCHASE, "PASS", sha_type)
    assert ours == sign(DOC_PURCHASE, "PASS", sha_type)
    assert ours != aps.signature(DOC_PURCHASE, "PASS2", sha_type)
    assert ours != aps.signature({**DOC_PURCHASE, "amount": "1001"}, "PASS", sha_type)
    with pytest.raises(ConfigurationError):
        aps.signature(DOC_PURCHASE, "PASS", "md5")


@pytest.mark.parametrize("amount,currency,minor", [
    ("20.00", "AED", 2000), ("20", "SAR", 2000), ("1.2345", "KWD", 1235), ("7.5", "BHD", 7500), ("0.125", "OMR", 125),
    ("10.005", "USD", 1001), ("3", "JOD", 3000), ("99.999", "TND", 99999), ("1.5", "IQD", 1500), ("2", "LYD", 2000)])
def test_amounts_in_minor_units_with_three_decimal_currencies(amount, currency, minor):
    """[AMT] round to the currency's decimals first, then scale."""
    assert aps.to_minor(Decimal(amount), currency) == minor
    assert aps.to_minor(aps.from_minor(minor, currency), currency) == minor


@pytest.fixture
def sim():
    with ApsSimulator() as s:
        yield s


@pytest.fixture
def connection(sim, settings):
    settings.SIMULATOR_HOSTS = ["127.0.0.1"]
    store = Store.objects.create(name="Gulf", db_url="sqlite:///unused.db")
    return Connection.objects.create(store=store, service="aps", base_url=sim.base_url, secret={
        "merchant_identifier": "MxvOupuG", "access_code": "SILgpo7pWbmzuURp2qri", "sha_request_phrase": "PASS",
        "sha_response_phrase": "RESP"})


def test_hosted_page_form_is_signed_and_a_wrong_one_is_sent_back_with_00008(sim, connection):
    """[API] A4 redirection; [SIG] a tampered form comes back as signature mismatch."""
    import httpx

    client = aps.ApsClient(connection)
    form = client.page_form(command="PURCHASE", merchant_reference="123456789012", amount_minor=2000, currency="aed",
                            email="a@example.com", return_url="https://hub.example/pay/x/return")
    assert form["currency"] == "AED" and form["amount"] == "2000"
    assert form["signature"] == aps.signature(form, "PASS")
    page = httpx.post(client.page_url, data=form)
    assert page.status_code == 200 and "2000 AED" in page.text
    bad = httpx.post(client.page_url, data={**form, "amount": "1"})
    assert bad.status_code == 302 and "response_code=00008" in bad.headers["location"]
    assert bad.headers["location"].startswith("https://hub.example/pay/x/return?")


def test_check_status_of_an_unknown_reference_and_wrong_phrases(sim, connection):
    """[API] 12036 for a reference APS never saw (the settings "Test" uses it: nothing is charged); 00008 when our
    request phrase is wrong; an answer signed with another response phrase is never trusted."""
    client = aps.ApsClient(connection)
    answer = client.check_status("nothing-here")
    assert answer.code == aps.NOT_FOUND
    body = sim.requests("/FortAPI/paymentApi")[-1].json()
    assert {"query_command", "merchant_reference", "language", "access_code", "merchant_identifier",
            "signature"} <= set(body)
    connection.secret = {**connection.secret, "sha_request_phrase": "WRONG"}
    connection.save()
    with pytest.raises(TerminalError) as exc:
        aps.ApsClient(connection).check_status("nothing-here")
    assert exc.value.code == "00008"
    connection.secret = {**connection.secret, "sha_request_phrase": "PASS", "sha_response_phrase": "OTHER"}
    connection.save()
    with pytest.raises(RetryableError) as exc:
        aps.ApsClient(connection).check_status("nothing-here")
    assert exc.value.code == "signature" and exc.value.maybe_sent
    # phrases never in the log
    for ex in Exchange.objects.filter(service="aps"):
        assert "PASS" not in ex.request_body and "RESP" not in ex.response_body
    assert_listed("aps", sim.requests())


def test_maintenance_commands_and_refusals(sim, connection):
    """[API] REFUND / CAPTURE / VOID_AUTHORIZATION with maintenance_reference; [SIM] refusals over the amounts."""
    client = aps.ApsClient(connection)
    sim.pay({"command": "PURCHASE", "merchant_reference": "R1", "amount": "2000", "currency": "AED"})
    sim.pay({"command": "AUTHORIZATION", "merchant_reference": "R2", "amount": "3000", "currency": "AED"})
    assert client.refund("R1", 500, "AED", maintenance_reference="m1", key="k1").ok
    again = client.refund("R1", 500, "AED", maintenance_reference="m1", key="k1")  # same operation reference
    assert again.ok and sim.transactions()["R1"]["refunded"] == 500
    with pytest.raises(TerminalError) as exc:
        client.refund("R1", 1600, "AED", maintenance_reference="m2", key="k2")
    assert exc.value.code == "07080"
    status = client.check_status("R1")
    assert (status.params["captured_amount"], status.params["refunded_amount"]) == ("2000", "500")
    assert client.capture("R2", 1000, "AED", maintenance_reference="m3", key="k3").ok
    with pytest.raises(TerminalError):
        client.void("R2", maintenance_reference="m4", key="k4")  # part captured: nothing to release
    sim.hold_next_maintenance()
    with pytest.raises(RetryableError) as exc:
        client.capture("R2", 500, "AED", maintenance_reference="m5", key="k5")
    assert exc.value.code == "15777" and exc.value.maybe_sent
    assert sim.transactions()["R2"]["captured"] == 1500
    refund_body = next(r.json() for r in sim.requests("/FortAPI/paymentApi") if r.json().get("command") == "REFUND")
    assert {"command", "merchant_reference", "amount", "currency", "language", "maintenance_reference"} <= set(refund_body)
    assert_listed("aps", sim.requests())


def test_production_hosts_and_refused_base_urls(settings):
    settings.SIMULATOR_HOSTS = []
    store = Store.objects.create(name="Gulf", db_url="sqlite:///unused.db")
    conn = Connection(store=store, service="aps", options={"sandbox": True})
    assert aps.endpoints(conn) == ("https://sbcheckout.payfort.com/FortAPI/paymentPage",
                                   "https://sbpaymentservices.payfort.com/FortAPI/paymentApi")
    conn.options = {}
    assert aps.endpoints(conn)[1] == "https://paymentservices.payfort.com/FortAPI/paymentApi"
    conn.base_url = "https://evil.example.com"
    with pytest.raises(ConfigurationError):
        aps.endpoints(conn)
