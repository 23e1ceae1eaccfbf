"""A Store's database is fields (no URL options reach the driver); its identity (host, port, database, prefix)
keys the hub's poll positions and phone index, and an upgrade re-keys them from the old URL hash."""

import hashlib

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, transaction

from ocbridge.core.errors import ConfigurationError
from ocbridge.core.models import Store
from ocbridge.core.shop_database import ShopDatabase


@pytest.mark.parametrize("url, named", [
    ("mysql+pymysql://x:y@host/db?local_infile=1", "local_infile"),
    ("mysql+pymysql://x:y@host/db?charset=utf8mb4&read_default_file=/etc/passwd", "read_default_file"),
    ("mysql://x@host/db?init_command=SELECT+1&ssl_disabled=1", "init_command, ssl_disabled"),
])
def test_a_url_with_options_is_refused_naming_them(url, named):
    with pytest.raises(ConfigurationError, match=f"options are not accepted \\({named}\\)"):
        ShopDatabase.from_url(url)


def test_a_url_is_split_into_the_fields_and_the_identity_ignores_user_and_password():
    a = ShopDatabase.from_url("mysql+pymysql://shop:p%40ss@DB.Example.com:3307/oc?charset=utf8mb3")
    assert (a.host, a.port, a.user, a.password, a.database, a.charset) == ("DB.Example.com", 3307, "shop", "p@ss",
                                                                            "oc", "utf8mb3")
    b = ShopDatabase.from_url("mysql://reader:other@db.example.com:3307/oc")
    assert a.identity("oc_") == b.identity("oc_") == ("db.example.com", 3307, "oc", "oc_")
    assert a.identity("oc_").key == b.identity("oc_").key != a.identity("shop2_").key
    assert ShopDatabase.from_url("mysql://u@h/oc").port == 3306
    assert "p@ss" not in repr(a) and "p@ss" not in a.display()


def test_the_driver_url_is_built_from_the_fields_only():
    db = ShopDatabase(host="h", port=3306, user="u", password="pw", database="oc", charset="utf8mb4")
    assert dict(db.sqlalchemy_url().query) == {"charset": "utf8mb4"}
    for bad in (dict(host="h/x?local_infile=1"), dict(charset="utf8mb4&local_infile=1"), dict(port=0), dict(database="")):
        with pytest.raises(ConfigurationError):
            ShopDatabase(**{**dict(host="h", database="oc"), **bad}).validate()


@pytest.mark.django_db
def test_store_db_url_splits_into_fields_and_keys_by_identity():
    store = Store.objects.create(name="A", db_url="mysql+pymysql://u:secret-pw@db:3306/oc", table_prefix="oc_")
    store.refresh_from_db()
    assert (store.db_host, store.db_port, store.db_user, store.db_name) == ("db", 3306, "u", "oc")
    assert store.secret == {"db_password": "secret-pw"} and store.shop_database.password == "secret-pw"
    assert store.db_key == store.shop_identity.key == ShopDatabase(host="db", database="oc").identity("oc_").key
    with pytest.raises(ConfigurationError, match="local_infile"):
        Store(name="B", db_url="mysql://u@db/oc?local_infile=1")
    with pytest.raises(ValueError, match="no longer read"):
        Store.objects.create(name="C", secret={"db_url": "mysql://u@db/oc"})


@pytest.mark.django_db
def test_a_second_store_on_the_same_identity_and_store_id_is_refused():
    first = Store.objects.create(name="A", db_url="mysql://u:p@db/oc")
    twin = Store(name="B", db_url="mysql://other:q@DB:3306/oc")
    assert twin.identity_clash() == first
    with pytest.raises(IntegrityError), transaction.atomic():
        twin.save()
    twin.oc_store_id = 1  # the same shop's second OpenCart store: allowed, shares the shop's key
    assert twin.identity_clash() is None
    twin.save()
    assert twin.db_key == first.db_key


@pytest.mark.django_db
def test_store_add_command_splits_the_url_and_refuses_options(tmp_path):
    from ocbridge.opencart.seed import create_shop

    url = f"sqlite:///{tmp_path / 'shop.db'}"
    create_shop(url, "3.0").dispose()
    with pytest.raises(CommandError, match=r"options are not accepted \(local_infile\)"):
        call_command("ocbridge_store", "add", "--name", "X", "--db-url", "mysql+pymysql://u:p@h/db?local_infile=1")
    call_command("ocbridge_store", "add", "--name", "Shop", "--db-url", url)
    store = Store.objects.get()
    assert (store.db_engine, store.db_name, store.version) == ("sqlite", str(tmp_path / "shop.db"), "3.0")
    with pytest.raises(CommandError, match="already reads this shop database"):
        call_command("ocbridge_store", "add", "--name", "Twin", "--db-url", url)


@pytest.mark.django_db(transaction=True)
def test_upgrade_moves_urls_into_fields_and_rekeys_poll_positions_and_phone_index():
    """Two old Stores read one shop through different users (two old keys); a third duplicates the first's
    store_id; a fourth had `?local_infile=1`. After the upgrade: fields set, the shop's state under one identity key
    with the earliest poll position (no order skipped), the duplicate switched off, dropped options audited."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    def old_key(url, prefix="oc_"):
        return hashlib.sha256(f"{url}|{prefix}".encode()).hexdigest()[:16]

    before = [("core", "0005_whatsapp_service"), ("opencart", "0003_phone_index_every_number"),
              ("order_lookup", "0002_netgsm_status_reasons")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    apps = executor.loader.project_state(before).apps
    OldStore, PollState = apps.get_model("core", "Store"), apps.get_model("opencart", "PollState")
    PhoneIndex, Backfill = apps.get_model("opencart", "PhoneIndex"), apps.get_model("order_lookup", "IndexBackfill")
    Job = apps.get_model("core", "Job")
    u1, u2 = "mysql+pymysql://shop:pw1@db.example.com/oc", "mysql+pymysql://reader:pw2@DB.example.com:3306/oc"
    u3 = "mysql+pymysql://x:y@other/oc?local_infile=1&charset=utf8mb4"
    a = OldStore.objects.create(name="A", secret={"db_url": u1, "api_key": "k"}, table_prefix="oc_")
    b = OldStore.objects.create(name="B", secret={"db_url": u2}, table_prefix="oc_", oc_store_id=1)
    dup = OldStore.objects.create(name="A again", secret={"db_url": u2}, table_prefix="oc_")
    c = OldStore.objects.create(name="C", secret={"db_url": u3}, table_prefix="oc_")
    PollState.objects.create(store_db_key=old_key(u1), last_order_id=500, last_history_id=90, pending_zero={"498": 1})
    PollState.objects.create(store_db_key=old_key(u2), last_order_id=480, last_history_id=95, pending_zero={"470": 1})
    PollState.objects.create(store_db_key=old_key(u3), last_order_id=7)
    now = "2026-12-01T00:00:00Z"
    for key, order_id in ((old_key(u1), 10), (old_key(u1), 11), (old_key(u2), 11), (old_key(u2), 12), (old_key(u3), 1)):
        PhoneIndex.objects.create(store_db_key=key, store_id=0, e164="+905321234567", order_id=order_id, created=now)
    Backfill.objects.create(store_db_key=old_key(u1), next_below=100, done=True)
    Backfill.objects.create(store_db_key=old_key(u2), next_below=300, done=False)
    Job.objects.create(kind="order_lookup.backfill_phones", key="backfill-old", payload={"db_key": old_key(u1)})

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    from ocbridge.core.models import AuditEntry, Job as CurrentJob, Store as Current
    from ocbridge.integrations.order_lookup.models import IndexBackfill
    from ocbridge.opencart.models import PhoneIndex as Phones, PollState as Polls

    sa, sb, sdup, sc = (Current.objects.get(pk=s.pk) for s in (a, b, dup, c))
    assert (sa.db_host, sa.db_user, sa.db_name, sa.secret) == ("db.example.com", "shop", "oc",
                                                               {"api_key": "k", "db_password": "pw1"})
    shop = sa.db_key
    assert shop == sb.db_key == sdup.db_key == sa.shop_identity.key and sc.db_key != shop
    assert sa.enabled and sb.enabled and not sdup.enabled
    state = Polls.objects.get(store_db_key=shop)
    assert (state.last_order_id, state.last_history_id) == (480, 90)
    assert state.pending_zero == {"498": 1, "470": 1}
    assert Polls.objects.get(store_db_key=sc.db_key).last_order_id == 7 and Polls.objects.count() == 2
    assert sorted(Phones.objects.filter(store_db_key=shop).values_list("order_id", flat=True)) == [10, 11, 12]
    assert Phones.objects.filter(store_db_key=sc.db_key).count() == 1 and Phones.objects.count() == 4
    backfill = IndexBackfill.objects.get()
    assert (backfill.store_db_key, backfill.next_below, backfill.done) == (shop, 300, False)
    assert CurrentJob.objects.get(key="backfill-old").payload == {"db_key": shop}
    assert AuditEntry.objects.get(action="store.db_url_options_dropped").data == {"options": ["local_infile"]}
    assert AuditEntry.objects.get(action="store.disabled_duplicate").store_id == dup.pk
