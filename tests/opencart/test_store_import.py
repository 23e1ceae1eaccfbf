"""Stores in bulk (opencart.store_import, `ocbridge store import`): each row checked against a real MariaDB shop,
refused rows say why and leave nothing behind, a template's accounts and features come along, and running the same
file again adds nothing twice."""

import json

import pytest
from django.core.management import CommandError, call_command

from ocbridge.core.models import AuditEntry, Connection, Integration, Store
from ocbridge.integrations.cod_confirm import plan
from ocbridge.opencart import store_import

pytestmark = pytest.mark.django_db


@pytest.fixture
def template(db):
    store = Store.objects.create(name="Şablon")
    conn = Connection.objects.create(store=store, service="netgsm", name="Ajans Netgsm",
                                     secret={"usercode": "8503001122", "password": "pw"})
    integ = Integration.objects.create(store=store, kind="cod_confirm", settings={"dry_run": True})
    plan.replace(integ, plan.default_steps(conn, ("call", "sms"), (0, 30)))
    return store


def _csv(rows):
    head = "name,db_url,prefix,store_id\n"
    return (head + "".join(f"{n},{u},{p},{s}\n" for n, u, p, s in rows)).encode()


def test_rows_are_checked_one_by_one_and_a_rerun_adds_nothing_twice(opencart_db, template, tmp_path):
    h = opencart_db("4.0")
    data = _csv([("Mağaza Bir", h.url, h.prefix, 0),
                 ("Kopya", h.url, h.prefix, 0),  # the same shop again in the file
                 ("Kapalı", "mysql+pymysql://oc:pw@127.0.0.1:1/shop", "oc_", 0),  # nothing answers
                 ("", h.url, h.prefix, 2),  # no name
                 ("Yanlış önek", h.url, "zz_", 3),  # no OpenCart tables under this prefix
                 ("Mağaza İki", h.url, h.prefix, 1)])
    rows = store_import.read_rows(data, "stores.csv")
    results = store_import.import_rows(rows, template=str(template.pk), user="admin")
    got = [(r.line, r.outcome) for r in results]
    assert got == [(2, "added"), (3, "refused"), (4, "refused"), (5, "refused"), (6, "refused"), (7, "added")]
    why = {r.line: r.message for r in results}
    assert "same shop database, prefix and store id as line 2" in why[3]
    assert "refused" in why[4].lower() or "connect" in why[4].lower()
    assert "name is missing" in why[5]
    assert why[6]  # the shop's own words about the missing tables
    added = Store.objects.filter(name__in=["Mağaza Bir", "Mağaza İki"])
    assert added.count() == 2 and not Store.objects.filter(name__in=["Kopya", "Kapalı", "Yanlış önek"]).exists()
    conn = Connection.objects.get(store=template)
    for store in added:
        assert store.version and store in conn.shared_with.all()  # the template's account serves it
        integ = Integration.objects.get(store=store, kind="cod_confirm")
        assert integ.settings == {"dry_run": True}
        assert [(s.channel, s.connection_id, s.delay_minutes) for s in plan.steps(integ)] == [
            ("call", conn.pk, 0), ("sms", conn.pk, 30)]
    assert AuditEntry.objects.filter(action="store.import", user="admin").count() == 2

    again = store_import.import_rows(rows, template=str(template.pk))
    assert [r.outcome for r in again] == ["exists", "refused", "refused", "refused", "refused", "exists"]
    assert Store.objects.count() == 3 and Integration.objects.filter(kind="cod_confirm").count() == 3

    path = tmp_path / "stores.csv"
    path.write_bytes(data)
    with pytest.raises(CommandError, match="4 row"):
        call_command("ocbridge_store", "import", str(path), "--template", template.name)
    assert Store.objects.count() == 3


def test_a_dry_run_adds_nothing_and_json_works_too(opencart_db, db):
    h = opencart_db("3.0")
    data = json.dumps([{"name": "Mağaza", "db_url": h.url, "prefix": h.prefix, "store_id": 0}]).encode()
    results = store_import.import_rows(store_import.read_rows(data, "stores.json"), dry_run=True)
    assert [(r.outcome, r.store_id) for r in results] == [("checked", None)] and not Store.objects.exists()
    (added,) = store_import.import_rows(store_import.read_rows(data, "stores.json"))
    assert added.outcome == "added" and Store.objects.get().name == "Mağaza"


def test_a_file_that_cannot_be_read_imports_nothing(db):
    for data, why in ((b"name,colour\nA,red\n", "unknown columns: colour"), (b"\xff\xfe", "not UTF-8"),
                      (b'{"name": "A"}', "list of objects"), (b"", "empty")):
        with pytest.raises(store_import.ImportFileError, match=why):
            store_import.read_rows(data, "stores.csv")
    results = store_import.import_rows([(2, {"name": "A", "db_host": "db", "db_name": "x", "template": "nope"})])
    assert results[0].outcome == "refused" and "no template store 'nope'" in results[0].message


def test_tls_columns_are_checked_like_the_store_form(mariadb, opencart_db, db):
    """db_tls_verify is yes or no; a CA certificate only with verification, never a private key, PEM that loads.
    A shop whose server offers no TLS (the session's MariaDB) is refused before its password is sent."""
    h = opencart_db("3.0")
    key = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----"
    rows = [(2, {"name": "A", "db_url": h.url, "db_tls_verify": "maybe"}),
            (3, {"name": "B", "db_url": h.url, "db_tls_verify": "no", "db_tls_ca": "-----BEGIN CERTIFICATE-----"}),
            (4, {"name": "C", "db_url": h.url, "db_tls_verify": "yes", "db_tls_ca": key}),
            (5, {"name": "D", "db_url": h.url, "db_tls_verify": "yes", "db_tls_ca": "not a certificate"}),
            (6, {"name": "E", "db_host": "127.0.0.1", "db_port": str(mariadb.port), "db_user": "root",
                 "db_name": h.name, "db_tls_verify": "yes", "prefix": h.prefix}),
            (7, {"name": "F", "db_url": h.url, "db_tls_verify": "", "prefix": h.prefix, "store_id": "2"})]
    results = store_import.import_rows(rows)
    why = {r.line: (r.outcome, r.message) for r in results}
    assert why[2] == ("refused", "db_tls_verify must be yes or no, not 'maybe'")
    assert why[3][0] == "refused" and "only used when the server's certificate is verified" in why[3][1]
    assert why[4][0] == "refused" and "private key" in why[4][1]
    assert why[5][0] == "refused" and "Not a PEM certificate" in why[5][1]
    assert why[6][0] == "refused" and "does not offer TLS, and this store requires" in why[6][1]
    assert why[7][0] == "added" and Store.objects.get().name == "F" and not Store.objects.get().db_tls_verify
    data = json.dumps([{"name": "G", "db_url": h.url, "db_tls_verify": True, "prefix": h.prefix, "store_id": 1}])
    (g,) = store_import.import_rows(store_import.read_rows(data.encode(), "stores.json"))
    assert g.outcome == "refused" and "does not offer TLS" in g.message  # JSON true reads as yes
