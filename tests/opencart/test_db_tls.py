"""TLS to the shop database against a REAL MariaDB started with TLS and `require_secure_transport`.

A store that asks for verification is connected as `mysql --ssl-verify-server-cert` would: the server's
certificate must chain to the trusted CAs (the store's own CA certificate when given) and name the host the
store connects to; a server that offers no TLS is refused before the login is sent. Stores that do not ask keep
PyMySQL's "preferred" mode.

PyMySQL's documented TLS parameters (pymysql/connections.py, `Connection` docstring, PyMySQL @0305ab3):
":param ssl: An ssl.SSLContext, or a dict of arguments similar to mysql_ssl_set()'s parameters", ":param
ssl_verify_cert: Set to true to check the server certificate's validity", ":param ssl_verify_identity: Set to true
to check the server's identity"; the socket is wrapped with `server_hostname=self.host`. We pass `ssl=` an
SSLContext (check_hostname on, CERT_REQUIRED). PyMySQL 1.2.0 (#1234, "implement PREFERRED/REQUIRED SSL mode
behavior") refuses a server without TLS when `ssl` is given ("SSL is required but the server doesn't support it");
older releases went on in plain text, so `opencart.db.ShopConnection` refuses it itself.
"""

from __future__ import annotations

import datetime as dt
import ipaddress

import pytest
import sqlalchemy as sa
from django.utils import translation

from ocbridge.core.shop_database import ShopDatabase
from ocbridge.opencart import db

def _key():
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


def _cert(subject: str, key, issuer_cert=None, issuer_key=None, *, ca: bool, names=(), ips=()):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (x509.CertificateBuilder().subject_name(name)
               .issuer_name(issuer_cert.subject if issuer_cert else name).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=2))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
    if ca:
        builder = builder.add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                                      content_commitment=False, key_encipherment=False,
                                                      data_encipherment=False, key_agreement=False,
                                                      encipher_only=False, decipher_only=False), critical=True)
    else:
        builder = (builder.add_extension(x509.SubjectAlternativeName(
            [x509.DNSName(n) for n in names] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                           critical=False))
    return builder.sign(issuer_key or key, hashes.SHA256())


def _pem(obj) -> str:
    from cryptography.hazmat.primitives import serialization

    if hasattr(obj, "private_bytes"):
        return obj.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption()).decode()
    return obj.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    """A MariaDB with a certificate for "localhost" only (not for 127.0.0.1), signed by a throwaway CA, refusing
    every TCP connection without TLS; a user with a password and a database."""
    from ocbridge.testbed.mariadb import MariaDBServer, MariaDBUnavailable

    base = tmp_path_factory.mktemp("mariadb-tls")
    ca_key, server_key, other_key = _key(), _key(), _key()
    ca = _cert("ocbridge test CA", ca_key, ca=True)
    other_ca = _cert("some other CA", other_key, ca=True)
    server = _cert("localhost", server_key, ca, ca_key, ca=False, names=["localhost"])
    for name, text in (("ca.pem", _pem(ca)), ("server.pem", _pem(server)), ("server-key.pem", _pem(server_key))):
        (base / name).write_text(text)
    mariadb = MariaDBServer(base / "server", extra_args=(
        f"--ssl-ca={base / 'ca.pem'}", f"--ssl-cert={base / 'server.pem'}", f"--ssl-key={base / 'server-key.pem'}",
        "--require-secure-transport=ON"))
    try:
        mariadb.start()
    except MariaDBUnavailable as exc:
        pytest.skip(str(exc))
    mariadb.create_database("tlsshop", user="shop", password="s3cret-pw")
    yield mariadb, _pem(ca), _pem(other_ca)
    mariadb.stop()
    db.forget()


def _database(server, host: str, **tls) -> ShopDatabase:
    return ShopDatabase(host=host, port=server.port, user="shop", password="s3cret-pw", database="tlsshop", **tls)


def _refusal(database: ShopDatabase) -> db.ShopTlsError:
    engine = db.make_engine(database)
    try:
        with pytest.raises(db.ShopTlsError) as caught:
            db.ping(engine)
    finally:
        engine.dispose()
    return caught.value


def _cipher(engine) -> str:
    with engine.connect() as conn:
        return conn.execute(sa.text("SHOW SESSION STATUS LIKE 'Ssl_cipher'")).one()[1]


def test_verified_connection_with_the_right_ca(tls_server):
    server, ca, _other = tls_server
    engine = db.make_engine(_database(server, "localhost", tls_verify=True, tls_ca=ca))
    try:
        db.ping(engine)
        assert _cipher(engine)  # encrypted: require_secure_transport let it in
    finally:
        engine.dispose()


def test_wrong_ca_is_refused_with_a_clear_error(tls_server):
    server, _ca, other = tls_server
    text = str(_refusal(_database(server, "localhost", tls_verify=True, tls_ca=other)))
    assert text.startswith("The shop's database server certificate could not be verified: it is not signed by a "
                           "certificate authority the hub trusts"), text
    assert "s3cret-pw" not in text


def test_system_cas_do_not_trust_a_private_ca(tls_server):
    """No CA certificate given: the system's authorities, which never signed the throwaway CA."""
    server, _ca, _other = tls_server
    refusal = _refusal(_database(server, "localhost", tls_verify=True))
    assert "not signed by a certificate authority the hub trusts" in str(refusal)


def test_wrong_host_name_is_refused(tls_server):
    """The certificate names "localhost"; the store connects to 127.0.0.1 — the same server, another name."""
    server, ca, _other = tls_server
    text = str(_refusal(_database(server, "127.0.0.1", tls_verify=True, tls_ca=ca)))
    assert "not issued for the database host name set for this store" in text
    assert "127.0.0.1" in text  # OpenSSL's own words name the address


def test_the_error_is_translated_where_it_is_shown(tls_server):
    """Raised where no language is active (a worker; the dashboard check's helper thread), read in the page's."""
    server, _ca, other = tls_server
    refusal = _refusal(_database(server, "localhost", tls_verify=True, tls_ca=other))
    with translation.override("tr"):
        turkish = str(refusal)
    with translation.override("ru"):
        russian = str(refusal)
    assert turkish.startswith("Mağazanın veritabanı sunucusunun sertifikası doğrulanamadı: sertifika, merkezin")
    assert russian.startswith("Не удалось проверить сертификат сервера базы данных магазина: он не подписан")


def test_preferred_mode_still_connects_encrypted(tls_server):
    """A store that does not ask for verification: as before, encrypted when the server offers it."""
    server, _ca, _other = tls_server
    engine = db.make_engine(_database(server, "127.0.0.1"))
    try:
        db.ping(engine)
        assert _cipher(engine)
    finally:
        engine.dispose()


def test_plain_server_unaffected_and_refused_when_verification_is_asked(mariadb):
    """The session's MariaDB has no TLS at all: a store without verification connects in plain text as before; one
    that asks for it is refused before its password is sent, with words saying so."""
    mariadb.create_database("plainshop", user="plain", password="plain-pw")
    plain = ShopDatabase(host="127.0.0.1", port=mariadb.port, user="plain", password="plain-pw", database="plainshop")
    engine = db.make_engine(plain)
    try:
        db.ping(engine)
        assert _cipher(engine) == ""
    finally:
        engine.dispose()
    refusal = _refusal(ShopDatabase(**{**plain.__dict__, "tls_verify": True}))
    assert "does not offer TLS, and this store requires" in str(refusal)


def test_required_without_verification_connects_encrypted_to_any_certificate(tls_server):
    """"Require TLS, without verifying": the certificate names "localhost" only and is signed by a CA the system does
    not trust, yet 127.0.0.1 connects — encrypted (the server lets no plain TCP connection in)."""
    server, _ca, _other = tls_server
    engine = db.make_engine(_database(server, "127.0.0.1", tls_required=True))
    try:
        db.ping(engine)
        assert _cipher(engine)
    finally:
        engine.dispose()


def test_required_without_verification_refuses_a_server_without_tls(mariadb):
    """The session's MariaDB has no TLS: refused before the password is sent, in words naming this setting."""
    mariadb.create_database("plainreq", user="plainreq", password="plainreq-pw")
    plain = ShopDatabase(host="127.0.0.1", port=mariadb.port, user="plainreq", password="plainreq-pw",
                         database="plainreq", tls_required=True)
    text = str(_refusal(plain))
    assert text.startswith("The shop's database server does not offer TLS, and this store requires TLS. Turn TLS on "
                           "in the database server, or turn off “Require TLS, without verifying the certificate”"), text
    with translation.override("tr"):
        assert str(_refusal(plain)).startswith("Mağazanın veritabanı sunucusu TLS sunmuyor, ancak bu mağaza TLS "
                                               "gerektiriyor.")


def test_store_check_shows_the_certificate_error(tls_server):
    """The dashboard's "Test" of a store (opencart.check_store, run in a helper thread) says what failed."""
    from ocbridge.core.models import Store
    from ocbridge.opencart import check_store

    server, _ca, other = tls_server
    store = Store(name="tls", db_host="localhost", db_port=server.port, db_user="shop", db_name="tlsshop",
                  secret={"db_password": "s3cret-pw"}, db_tls_verify=True, db_tls_ca=other)
    try:
        result = check_store(store)
    finally:
        db.forget(store.shop_database)
    assert result["ok"] is False
    assert result["message"].startswith("The shop's database server certificate could not be verified")


@pytest.mark.django_db
def test_store_add_on_the_command_line(tls_server, tmp_path, monkeypatch):
    """`ocbridge store add --db-tls-verify --db-tls-ca FILE`: the wrong CA is refused in the same words; the right
    one gets through TLS to the next check (this database has no OpenCart tables)."""
    from django.core.management import CommandError, call_command

    server, ca, other = tls_server
    monkeypatch.setenv("OCBRIDGE_SHOP_DB_PASSWORD", "s3cret-pw")
    (tmp_path / "right.pem").write_text(ca)
    (tmp_path / "wrong.pem").write_text(other)
    args = ["ocbridge_store", "add", "--name", "tls", "--db-host", "localhost", "--db-port", str(server.port),
            "--db-user", "shop", "--db-name", "tlsshop", "--db-tls-verify", "--db-tls-ca"]
    try:
        with pytest.raises(CommandError, match="Not added: The shop's database server certificate could not be "
                                               "verified: it is not signed"):
            call_command(*args, str(tmp_path / "wrong.pem"))
        with pytest.raises(CommandError, match="No table 'oc_order'"):
            call_command(*args, str(tmp_path / "right.pem"))
    finally:
        db.forget()


@pytest.mark.django_db
def test_store_import_rows_ask_for_verified_tls_like_the_form(tls_server):
    """`store import` / the dashboard upload: db_tls_verify and db_tls_ca columns (the CA's PEM in a quoted CSV
    cell). A row with the right CA is checked over verified TLS and added with it; the wrong CA is refused in the
    certificate's words; nothing of a refused row is saved."""
    import csv
    import io

    from ocbridge.core.models import Store
    from ocbridge.opencart import store_import
    from ocbridge.opencart.seed import create_shop

    server, ca, other = tls_server
    shop = _database(server, "localhost", tls_verify=True, tls_ca=ca)
    engine = db.make_engine(shop)
    try:
        create_shop(engine, "3.0")  # an OpenCart 3.0 shop behind TLS, built over a verified connection
    finally:
        engine.dispose()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["name", "db_host", "db_port", "db_user", "db_password", "db_name", "db_tls_verify", "db_tls_ca",
                     "store_id", "db_tls_required"])
    writer.writerow(["TLS mağaza", "localhost", server.port, "shop", "s3cret-pw", "tlsshop", "yes", ca, 0])
    writer.writerow(["Wrong CA", "localhost", server.port, "shop", "s3cret-pw", "tlsshop", "yes", other, 1])
    writer.writerow(["Not verified", "localhost", server.port, "shop", "s3cret-pw", "tlsshop", "no", "", 2])
    writer.writerow(["Required", "127.0.0.1", server.port, "shop", "s3cret-pw", "tlsshop", "", "", 3, "yes"])
    try:
        results = store_import.import_rows(store_import.read_rows(out.getvalue().encode(), "stores.csv"))
    finally:
        db.forget()
    assert [r.outcome for r in results] == ["added", "refused", "added", "added"], [r.message for r in results]
    assert results[1].message.startswith("The shop's database server certificate could not be verified: it is not "
                                         "signed by a certificate authority the hub trusts"), results[1].message
    added = Store.objects.get(name="TLS mağaza")
    assert added.db_tls_verify is True and added.db_tls_ca == ca.strip() and added.version == "3.0"
    plain = Store.objects.get(name="Not verified")  # preferred mode, as before: encrypted, not verified
    assert plain.db_tls_verify is False and plain.db_tls_ca == ""
    assert not Store.objects.filter(name="Wrong CA").exists()
    required = Store.objects.get(name="Required")  # 127.0.0.1, which the certificate does not name: not verified
    assert required.db_tls_required is True and required.db_tls_verify is False
