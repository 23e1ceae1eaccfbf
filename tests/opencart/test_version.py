"""Version detection from the schema, and clear errors for wrong URLs, credentials and prefixes."""

import pytest
import sqlalchemy as sa

from ocbridge.core.errors import ConfigurationError
from ocbridge.opencart import db
from ocbridge.opencart.version import detect


@pytest.mark.parametrize("layout,label", [("2.3", "2.3"), ("3.0", "3.0"), ("4.0.0", "4.0.0–4.0.1"), ("4.0", "4.0.2+")])
def test_detects_each_version(opencart_db, layout, label):
    h = opencart_db(layout)
    info = detect(h.engine, "oc_")
    assert (info.layout, info.label, info.api_supported) == (layout, label, True)


def test_detects_on_sqlite_demo_layout(opencart_sqlite):
    h = opencart_sqlite("3.0")
    assert db.connect(h.url, "oc_").version.layout == "3.0"


def test_41_is_read_only(opencart_db):
    h = opencart_db("4.0", fresh=True)
    with h.engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE oc_order ADD KEY email (email)"))
    info = detect(h.engine, "oc_")
    assert info.label == "4.1+" and info.api_supported is False


def test_older_than_23_refused(opencart_db):
    h = opencart_db("2.3", fresh=True)
    with h.engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE oc_order DROP COLUMN custom_field"))
    with pytest.raises(ConfigurationError, match="older than 2.3"):
        detect(h.engine, "oc_")


def test_wrong_prefix_names_the_prefix_found(opencart_db):
    h = opencart_db("3.0", prefix="shop_")
    with pytest.raises(ConfigurationError, match="prefix 'oc_' looks wrong.*'shop_'"):
        detect(h.engine, "oc_")


def test_wrong_password_is_a_configuration_error(mariadb):
    mariadb.create_database("pwcheck", user="shopuser", password="right")
    engine = db.make_engine(mariadb.url("pwcheck", user="shopuser", password="wrong"))
    with pytest.raises(ConfigurationError, match="user name or password"):
        db.ping(engine)


def test_unknown_database_is_a_configuration_error(mariadb):
    with pytest.raises(ConfigurationError, match="does not exist"):
        db.ping(db.make_engine(mariadb.url("no_such_db")))


def test_bad_url_and_unsupported_backend():
    with pytest.raises(ConfigurationError, match="not a database URL"):
        db.make_engine("not a url")
    with pytest.raises(ConfigurationError, match="MySQL/MariaDB"):
        db.make_engine("postgresql://u@h/db")


def test_unknown_layout_refused():
    with pytest.raises(ConfigurationError):
        db.connect("sqlite://", "oc_", version="1.5")
