"""The store's database TLS settings in the dashboard: verification on/off, a private CA's certificate (public, so a
plain field, but bounded and checked as PEM on save), errors in the owner's language."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import translation

from ocbridge.core.shop_database import CA_PEM_MAX
from ocbridge.dashboard.forms import StoreForm

from dashboard.test_dashboard_stores import STORE_FORM

pytestmark = pytest.mark.django_db


def _ca_pem(name: str = "shop CA") -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _form(store, **fields):
    return StoreForm(data={**STORE_FORM, **fields}, instance=store)


def test_verification_with_a_private_ca_is_saved_and_used(client_in, store):
    pem = _ca_pem()
    resp = client_in.post(reverse("dashboard:store-edit", args=[store.pk]),
                          {**STORE_FORM, "db_tls_verify": "on", "db_tls_ca": "\n" + pem + "\n"})
    assert resp.status_code == 302, resp.context["form"].errors if resp.context else resp
    store.refresh_from_db()
    assert store.db_tls_verify is True and store.db_tls_ca == pem.strip()
    assert store.shop_database.tls_verify and store.shop_database.tls_ca == pem.strip()
    # the same shop either way: TLS settings are not part of its identity (poll positions stay)
    assert store.shop_database.identity("oc_") == store.shop_database.__class__(
        host=store.db_host, port=store.db_port, database=store.db_name).identity("oc_")


@pytest.mark.parametrize("text, words", [
    ("hello", "not a CA certificate in PEM form"),
    ("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----", "not a CA certificate in PEM form"),
    ("-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49\n-----END PRIVATE KEY-----", "This is a private key"),
])
def test_what_is_not_a_ca_certificate_is_refused_with_a_clear_error(store, text, words):
    f = _form(store, db_tls_verify="on", db_tls_ca=text)
    assert not f.is_valid()
    assert words in f.errors["db_tls_ca"][0]


def test_the_certificate_field_is_bounded(store):
    pem = _ca_pem()
    text = "\n".join([pem] * (CA_PEM_MAX // len(pem) + 1))
    f = _form(store, db_tls_verify="on", db_tls_ca=text)
    assert not f.is_valid() and "longer than 32 kB" in f.errors["db_tls_ca"][0]
    assert _form(store, db_tls_verify="on", db_tls_ca="\n".join([pem] * 3)).is_valid()  # a short chain is fine


def test_a_certificate_without_verification_is_refused(store):
    f = _form(store, db_tls_ca=_ca_pem())
    assert not f.is_valid() and "used only when the server certificate is verified" in f.errors["db_tls_verify"][0]


def test_errors_are_translated(store):
    with translation.override("tr"):
        f = _form(store, db_tls_verify="on", db_tls_ca="hello")
        assert not f.is_valid()
        assert "PEM" in f.errors["db_tls_ca"][0] and "not a CA certificate" not in f.errors["db_tls_ca"][0]
    with translation.override("ru"):
        f = _form(store, db_tls_verify="on", db_tls_ca="hello")
        assert not f.is_valid() and "Это не сертификат CA" in f.errors["db_tls_ca"][0]


def test_leaving_verification_off_is_the_old_behaviour(store):
    f = _form(store)
    assert f.is_valid(), f.errors
    saved = f.save()
    assert saved.db_tls_verify is False and saved.db_tls_ca == ""


def test_tls_required_without_verification_is_saved_and_used(client_in, store):
    resp = client_in.post(reverse("dashboard:store-edit", args=[store.pk]), {**STORE_FORM, "db_tls_required": "on"})
    assert resp.status_code == 302, resp.context["form"].errors if resp.context else resp
    store.refresh_from_db()
    assert store.db_tls_required is True and store.db_tls_verify is False
    assert store.shop_database.tls_required and not store.shop_database.tls_verify
    client_in.cookies["django_language"] = "ru"
    page = client_in.get(reverse("dashboard:store-edit", args=[store.pk])).content.decode()
    assert "Требовать TLS, не проверяя сертификат" in page
    assert re.search(r'name="db_tls_required"[^>]* checked', page)
