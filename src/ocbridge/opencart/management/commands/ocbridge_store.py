"""`ocbridge store add|list|check`: connect a shop and see, in plain words, what the hub finds there."""

from __future__ import annotations

import sqlalchemy as sa
from django.core.management.base import BaseCommand, CommandError

from ocbridge import opencart
from ocbridge.core.errors import ConfigurationError, ServiceError
from ocbridge.core.models import Store


class Command(BaseCommand):
    help = "Manage connected OpenCart stores."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="connect a store")
        add.add_argument("--name", required=True)
        add.add_argument("--db-url", required=True, help="mysql+pymysql://user:password@host/database")
        add.add_argument("--prefix", default="oc_")
        add.add_argument("--store-id", type=int, default=0, help="OpenCart store_id (0 = default store)")
        add.add_argument("--api-url", default="", help="shop URL for the native API, e.g. https://shop.example.com/")
        add.add_argument("--api-user", default="")
        add.add_argument("--api-key", default="")
        add.add_argument("--timezone", default="Europe/Istanbul")
        add.add_argument("--country", default="TR")
        add.add_argument("--language", default="tr")
        sub.add_parser("list", help="list stores")
        check = sub.add_parser("check", help="check a store's database and API")
        check.add_argument("store", help="store id or name")

    def handle(self, *args, action, **opts):
        getattr(self, f"do_{action}")(**opts)

    def do_add(self, *, name, db_url, prefix, store_id, api_url, api_user, api_key, timezone, country, language, **_):
        secret = {"db_url": db_url, **({"api_key": api_key} if api_key else {})}
        store = Store(name=name, secret=secret, table_prefix=prefix, oc_store_id=store_id, api_url=api_url,
                      api_username=api_user, timezone=timezone, country=country.upper(), language=language)
        result = opencart.check_store(store)
        if not result["ok"]:
            raise CommandError(f"not added: {result['message']}")
        store.version = result.get("version", "")
        store.save()
        self.stdout.write(self.style.SUCCESS(f"added store #{store.pk}: {result['message']}"))

    def do_list(self, **_):
        for s in Store.objects.all():
            self.stdout.write(f"#{s.pk}  {s.name}  OpenCart {s.version or '?'}  store_id={s.oc_store_id}"
                              f"  {'enabled' if s.enabled else 'disabled'}")

    def do_check(self, *, store, **_):
        s = Store.objects.filter(pk=int(store)).first() if store.isdigit() else Store.objects.filter(name=store).first()
        if s is None:
            raise CommandError(f"no store {store!r}")
        result = opencart.check_store(s)
        if not result["ok"]:
            raise CommandError(result["message"])
        self.stdout.write(result["message"])
        shop = opencart.shop_db(s)
        with shop.engine.connect() as conn:
            count = conn.execute(sa.select(sa.func.count()).select_from(shop.t("order"))).scalar()
        self.stdout.write(f"Orders in the database: {count}")
        from ocbridge.opencart import statuses

        names = statuses.statuses(shop, 1) or next(iter(statuses.statuses(shop).values()), {})
        self.stdout.write("Order statuses: " + ", ".join(f"{k} {v}" for k, v in sorted(names.items())))
        if not (s.api_url and s.api_key):
            self.stdout.write("Native API: not configured — status changes are written to the database "
                              "(no OpenCart e-mails or events).")
            return
        try:
            opencart.api_client(s, shop).login()
            self.stdout.write("Native API: logged in; status changes go through OpenCart itself.")
        except (ServiceError, ConfigurationError) as exc:
            self.stdout.write(self.style.WARNING(f"Native API: login refused — {exc}"))
