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


# --- merchant page, 3-D Secure, installments ---------------------------------------------------------------------
# Sources:
# - [MP] SDK payfort/payfort-php-sdk Model/PaymentTypeAdapter.php buildRequiredParameters / buildOptionalParameters:
#   standard (merchant page) TOKENIZATION requires service_command, merchant_reference, language (+ access_code,
#   merchant_identifier), optional token_name, return_url; standard PURCHASE / AUTHORIZATION requires command,
#   merchant_reference, amount, currency, language, customer_email, customer_ip, token_name.
# - [INS] SDK Model/Payment/InstallmentsCCStandardTokenization.php (+ installments=STANDALONE, amount, currency),
#   InstallmentsCCStandardPurchase.php (+ installments=YES, plan_code, issuer_code; INSTALLMENTS_TYPE_PURCHASE),
#   InstallmentsCCRedirectPurchase.php / the OpenCart plugin's getPaymentRequestParams (redirection:
#   installments=STANDALONE with PURCHASE); the plugin's merchantPageNotifyFort (installments=HOSTED, plan_code,
#   issuer_code); APS "Installments" guide docs/EN/24c.html (STANDALONE flags a hosted checkout request).
# - [PLANS] SDK Model/Maintenance/InstallmentsPlansModel.php (query_command GET_INSTALLMENTS_PLANS; amount,
#   currency, language), APSSignature.php (installment_detail is not signed), plugin get_installment_plan
#   (62000, installment_detail.issuer_detail[].plan_details / bins).
# - [3DS] payments.md A4/A5 and SDK Model/APSResponse.php (requires3dsValidation: a non-empty 3ds_url), plugin
#   constant AMAZON_PS_MERCHANT_SUCCESS_RESPONSE_CODE 20064.

MP_TOKENIZATION = {"service_command", "access_code", "merchant_identifier", "merchant_reference", "language",
                   "return_url", "signature"}
MP_PURCHASE = {"command", "access_code", "merchant_identifier", "merchant_reference", "amount", "currency", "language",
               "customer_email", "customer_ip", "token_name", "signature"}


def _tokenized(sim, client, reference, card="4111111111111111"):
    form = client.tokenization_form(merchant_reference=reference, return_url="https://hub.example/pay/x/card")
    return form, sim.tokenize(form, card_number=card)


def _purchase(client, reference, token, **kw):
    return client.purchase(command=kw.pop("command", "PURCHASE"), merchant_reference=reference, amount_minor=200000,
                           currency="AED", token_name=token, email="a@example.com", customer_ip="192.0.2.7",
                           return_url="https://hub.example/pay/x/return", language="en", **kw)


def test_merchant_page_tokenization_form_and_signed_answer(sim, connection):
    """[MP] the TOKENIZATION form carries exactly the SDK's fields; [SIG] its signature is the documented one (the
    published TOKENIZATION example without return_url); the answer is signed with the response phrase."""
    client = aps.ApsClient(connection)
    form = client.tokenization_form(merchant_reference="MyReference0001", return_url="https://hub.example/c",
                                    language="en")
    assert set(form) == MP_TOKENIZATION and form["service_command"] == "TOKENIZATION"
    doc = {k: v for k, v in form.items() if k not in ("return_url", "signature")}
    assert doc == DOC_TOKENIZATION
    answer = sim.tokenize(form, card_number="4111 1111 1111 1111")
    assert answer["response_code"] == "18000" and answer["token_name"] and answer["card_number"] == "411111******1111"
    assert client.verify_feedback(answer) and not aps.verify(answer, "PASS")
    bad = sim.tokenize(form, card_number="4111111111111112")  # fails the Luhn check [SIM]
    assert bad["status"] != "18" and client.verify_feedback(bad)


def test_purchase_with_token_fields_3ds_and_refusals(sim, connection):
    """[MP] host-to-host PURCHASE / AUTHORIZATION with the SDK's required fields; [3DS] 20064 + 3ds_url;
    [SIM] a token used twice and a repeated merchant_reference are refused (status 00 → TerminalError)."""
    client = aps.ApsClient(connection)
    _form, tok = _tokenized(sim, client, "MP1")
    answer = _purchase(client, "MP1", tok["token_name"], command="AUTHORIZATION")
    assert answer.status == "02" and answer.fort_id
    body = sim.requests("/FortAPI/paymentApi")[-1].json()
    assert MP_PURCHASE <= set(body) and body["command"] == "AUTHORIZATION" and "installments" not in body
    with pytest.raises(TerminalError):
        _purchase(client, "MP1b", tok["token_name"])  # the token was used
    _form, tok = _tokenized(sim, client, "MP2", card="4000000000003220")
    answer = _purchase(client, "MP2", tok["token_name"])
    assert answer.code == aps.SECURE_3DS and answer.extra["3ds_url"].startswith(sim.base_url)
    _form, tok = _tokenized(sim, client, "MP1")
    with pytest.raises(TerminalError):  # MP1 has a transaction already
        _purchase(client, "MP1", tok["token_name"])
    assert not any("4111111111111111" in ex.request_body or tok["token_name"] in ex.request_body
                   for ex in Exchange.objects.filter(service="aps"))  # token and card never stored
    assert_listed("aps", sim.requests())


def test_purchase_answer_signed_with_another_phrase_is_doubtful_not_trusted(sim, connection):
    """[SIG] an answer we cannot verify may still mean money was taken: retryable, maybe sent (asked, never resent)."""
    client = aps.ApsClient(connection)
    _form, tok = _tokenized(sim, client, "MP3")
    connection.secret = {**connection.secret, "sha_response_phrase": "OTHER"}
    connection.save()
    with pytest.raises(RetryableError) as exc:
        _purchase(aps.ApsClient(connection), "MP3", tok["token_name"])
    assert exc.value.maybe_sent and sim.transactions()["MP3"]["status"] == "14"


def test_installment_forms_standalone_and_purchase_fields(sim, connection):
    """[INS] redirection: installments=STANDALONE with PURCHASE even for an authorising shop; merchant page:
    TOKENIZATION + installments=STANDALONE, amount, currency; the plan APS's page returned goes into the purchase
    as installments=YES, plan_code, issuer_code; HOSTED with a plan of the card's bank."""
    client = aps.ApsClient(connection)
    page = client.page_form(command="AUTHORIZATION", merchant_reference="I1", amount_minor=200000, currency="AED",
                            email="a@example.com", return_url="https://hub.example/r", installments=True)
    assert (page["command"], page["installments"]) == ("PURCHASE", "STANDALONE")
    assert page["signature"] == aps.signature(page, "PASS")
    form = client.tokenization_form(merchant_reference="I2", return_url="https://hub.example/c",
                                    installments_minor=200000, currency="aed")
    assert set(form) == MP_TOKENIZATION | {"installments", "amount", "currency"}
    assert (form["installments"], form["amount"], form["currency"]) == ("STANDALONE", "200000", "AED")
    tok = sim.tokenize(form, card_number="4111111111111111", plan="zaQnN1:6MGB")
    assert (tok["plan_code"], tok["issuer_code"]) == ("6MGB", "zaQnN1") and client.verify_feedback(tok)
    answer = _purchase(client, "I2", tok["token_name"], command="AUTHORIZATION",
                       installments={"mode": "YES", "plan_code": "6MGB", "issuer_code": "zaQnN1"})
    body = sim.requests("/FortAPI/paymentApi")[-1].json()
    assert answer.status == "14" and (body["command"], body["installments"], body["plan_code"]) == ("PURCHASE", "YES", "6MGB")
    _f, tok = _tokenized(sim, client, "I3", card="5454545454545454")
    with pytest.raises(TerminalError):  # [SIM] HOSTED with a plan of a bank the card is not from
        _purchase(client, "I3", tok["token_name"], installments={"mode": "HOSTED", "plan_code": "6MGB",
                                                                 "issuer_code": "zaQnN1"})
    _f, tok = _tokenized(sim, client, "I4", card="5454545454545454")
    assert _purchase(client, "I4", tok["token_name"], installments={"mode": "HOSTED", "plan_code": "12MDI",
                                                                    "issuer_code": "tRt8W2"}).status == "14"


def test_installment_plans_query_and_unsigned_detail(sim, connection):
    """[PLANS] GET_INSTALLMENTS_PLANS with amount and currency; 62000 with issuers, plans and BINs; the nested
    installment_detail is left out of the signature by both sides."""
    client = aps.ApsClient(connection)
    answer = client.installment_plans(amount_minor=200000, currency="AED", language="en")
    assert answer.code == "62000"
    body = sim.requests("/FortAPI/paymentApi")[-1].json()
    assert {"query_command", "amount", "currency", "language", "access_code", "merchant_identifier",
            "signature"} == set(body) and body["query_command"] == "GET_INSTALLMENTS_PLANS"
    issuers = answer.params["installment_detail"]["issuer_detail"]
    assert {i["issuer_code"] for i in issuers} == {"zaQnN1", "tRt8W2"}
    assert all(i["bins"] and i["plan_details"][0]["plan_code"] for i in issuers)
    bare = {k: v for k, v in answer.params.items() if k != "installment_detail"}
    assert aps.signature(answer.params, "RESP") == aps.signature(bare, "RESP") == sign(answer.params, "RESP")
    few = client.installment_plans(amount_minor=100, currency="AED")  # under every bank's minimum [SIM]
    assert few.params["installment_detail"]["issuer_detail"] == []
    assert_listed("aps", sim.requests())
