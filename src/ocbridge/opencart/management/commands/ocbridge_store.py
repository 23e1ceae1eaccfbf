"""`ocbridge store add|import|list|check|remove`: connect a shop and see, in plain words, what the hub finds there."""

from __future__ import annotations

import os

import sqlalchemy as sa
from django.core.management.base import BaseCommand, CommandError

from ocbridge import opencart
from ocbridge.core.errors import ConfigurationError, ServiceError
from ocbridge.core.models import Store
from ocbridge.core.shop_database import CA_PEM_MAX, CHARSETS, DEFAULT_CHARSET, DEFAULT_PORT, ShopDatabase
from ocbridge.opencart import store_import


class Command(BaseCommand):
    help = "Connect, list, check and remove OpenCart stores."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="{add,import,list,check,remove}")
        add = sub.add_parser("add", help="connect a store (its database must answer, or say --not-reachable-yet)",
                             description="Connect an OpenCart store. The hub connects to the shop's database, "
                             "detects the version, reads the time zone, language, currency and country the shop "
                             "is set to, checks that it may write order statuses (changing nothing) and logs in to "
                             "the native API when given. The store is saved only when all of that works.")
        add.add_argument("--name", required=True, help="how the store is called in the dashboard")
        add.add_argument("--db-url", help="the shop's database as a URL, e.g. mysql+pymysql://user:password@host:3306/"
                         "database (no ?options), split into the fields below")
        add.add_argument("--db-host", default="", help="database host (instead of --db-url)")
        add.add_argument("--db-port", type=int, default=DEFAULT_PORT, help="database port (default 3306)")
        add.add_argument("--db-user", default="", help="database user")
        add.add_argument("--db-name", default="", help="database name")
        add.add_argument("--db-charset", default=DEFAULT_CHARSET, choices=CHARSETS, help="character set (default utf8mb4)")
        add.add_argument("--db-tls-verify", action="store_true",
                         help="require TLS and verify the database server's certificate and host name, as "
                              "mysql --ssl-verify-server-cert (without it: encrypted only when the server offers it, "
                              "the certificate not checked)")
        add.add_argument("--db-tls-required", action="store_true",
                         help="require TLS but do not check the certificate (a self-signed server): encrypted "
                              "against listening, not against a redirected connection; --db-tls-verify is safer")
        add.add_argument("--db-tls-ca", default="", metavar="FILE",
                         help="with --db-tls-verify: the CA certificate (PEM) of a private CA, instead of the "
                              "system's trusted CAs")
        add.add_argument("--db-password-env", default="OCBRIDGE_SHOP_DB_PASSWORD", metavar="VAR",
                         help="environment variable holding the database password (default %(default)s)")
        add.add_argument("--prefix", default="oc_", help="table prefix (default oc_)")
        add.add_argument("--store-id", type=int, default=0, help="OpenCart store_id (0 = the default store)")
        add.add_argument("--api-url", default="", help="shop URL for OpenCart's native API, e.g. https://shop.example.com/")
        add.add_argument("--api-user", default="", help="API user name (System › Users › API in OpenCart)")
        add.add_argument("--api-key", default="", help="that API user's key; tried before the store is saved")
        add.add_argument("--timezone", default=None, help="override the shop's own time zone, e.g. Europe/Istanbul")
        add.add_argument("--country", default=None, help="override the shop's country (ISO code, e.g. TR)")
        add.add_argument("--language", default=None, help="override the shop's language (tr, ru, en)")
        add.add_argument("--currency", default=None, help="override the shop's currency (e.g. TRY)")
        add.add_argument("--not-reachable-yet", action="store_true",
                         help="save it although its database does not answer now (shown as 'not reachable yet' "
                              "until a check succeeds)")
        imp = sub.add_parser("import", help="connect many stores from a CSV or JSON file, each checked like `add`",
                             description="Connect the stores listed in a CSV file (first line: the column names) "
                             "or a JSON list of objects. Columns: " + ", ".join(store_import.FIELDS) + ". Each row "
                             "is checked like `store add` and saved on its own, with what its template brings (the "
                             "template's provider accounts shared, its features copied); a shop already connected "
                             "is reported, not added again, so the same file can be run again. The file holds "
                             "database passwords: delete it afterwards.")
        imp.add_argument("file", help="stores.csv or stores.json")
        imp.add_argument("--template", default="", help="store number or name whose accounts and features every row "
                                                        "gets (a row's own `template` column wins)")
        imp.add_argument("--dry-run", action="store_true", help="check every row, add nothing")
        imp.add_argument("--not-reachable-yet", action="store_true",
                         help="add rows whose database does not answer now (as 'not reachable yet')")
        sub.add_parser("list", help="list stores with their version, time zone and state")
        check = sub.add_parser("check", help="test a store's database, write permission and native API",
                               description="Test a store: database, settings, write permission (nothing is "
                               "changed), native API login. Each step gives up after 10 s with a message.")
        check.add_argument("store", help="store number (see `ocbridge store list`) or name")
        remove = sub.add_parser("remove", help="remove a store and everything the hub keeps about it")
        remove.add_argument("store", help="store number or name")
        remove.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    def handle(self, *args, action, **opts):
        getattr(self, f"do_{action}")(**opts)

    def _say(self, text: str) -> None:
        self.stdout.write(text)
        self.stdout.flush()

    def do_add(self, *, name, prefix, store_id, api_url, api_user, api_key, timezone, country, language,
               currency, not_reachable_yet, **opts):
        store = Store(name=name, secret={"api_key": api_key} if api_key else {}, table_prefix=prefix,
                      oc_store_id=store_id, api_url=api_url, api_username=api_user)
        try:
            self._set_database(store, **opts)
        except ConfigurationError as exc:
            raise CommandError(f"Not added: {exc}") from None
        clash = store.identity_clash()
        if clash is not None:
            raise CommandError(f"Not added: store #{clash.pk} “{clash.name}” already reads this shop database, "
                               f"table prefix and store id.")
        self._say("Connecting to the shop database (up to 10 s per step)…")
        result = opencart.check_store(store)
        if not result["ok"] and not (not_reachable_yet and "profile" not in result):
            raise CommandError(f"Not added: {result['message']}")
        prof = result.get("profile")
        store.timezone = timezone or (prof and prof.timezone) or store.timezone
        store.country = (country or (prof and prof.country) or store.country).upper()
        store.language = language or (prof and prof.language) or store.language
        store.currency = (currency or (prof and prof.currency) or store.currency).upper()
        store.version = result.get("version", "")
        store.save()
        if prof is None:
            self._say(self.style.WARNING(f"Added store #{store.pk} as NOT REACHABLE YET: {result['message']}\n"
                                         f"Run `ocbridge store check {store.pk}` once the database answers."))
            return
        self._say(self.style.SUCCESS(f"Added store #{store.pk}: {result['message']}"))
        self._say(f"Saved with time zone {store.timezone}, country {store.country}, language {store.language}, "
                  f"currency {store.currency}" + (" (as the shop is set)" if not any((timezone, country, language,
                                                                                     currency)) else ""))

    def do_import(self, *, file, template, dry_run, not_reachable_yet, **_):
        try:
            with open(file, "rb") as fh:
                rows = store_import.read_rows(fh.read(), file)
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}") from None
        except store_import.ImportFileError as exc:
            raise CommandError(f"Nothing imported: {exc}") from None
        self._say(f"{len(rows)} row(s); checking each shop (up to 10 s per step)…")
        results = store_import.import_rows(rows, template=template, dry_run=dry_run,
                                           allow_unreachable=not_reachable_yet, user="command line")
        style = {store_import.ADDED: self.style.SUCCESS, store_import.CHECKED: self.style.SUCCESS,
                 store_import.EXISTS: self.style.WARNING, store_import.REFUSED: self.style.ERROR}
        for r in results:
            where = f" #{r.store_id}" if r.store_id else ""
            self._say(style[r.outcome](f"line {r.line} {r.name or '(no name)'}: {r.outcome}{where} — {r.message}"))
        counts = store_import.summary(results)
        self._say(("Checked" if dry_run else "Done") + f": {counts['added']} added, {counts['checked']} would be "
                  f"added, {counts['exists']} already there, {counts['refused']} refused.")
        if counts["refused"]:
            raise CommandError(f"{counts['refused']} row(s) refused; fix them and run the same file again.")

    @staticmethod
    def _set_database(store, *, db_url, db_host, db_port, db_user, db_name, db_charset, db_password_env,
                      db_tls_verify=False, db_tls_required=False, db_tls_ca="", **_):
        if db_tls_ca:
            try:
                with open(db_tls_ca, encoding="utf-8", errors="replace") as fh:
                    store.db_tls_ca = fh.read(CA_PEM_MAX + 1).strip()
            except OSError as exc:
                raise ConfigurationError(f"cannot read the CA certificate {db_tls_ca}: {exc.strerror}") from None
        store.db_tls_verify, store.db_tls_required = bool(db_tls_verify), bool(db_tls_required)
        if db_url:
            if db_host or db_name:
                raise ConfigurationError("give either --db-url or the --db-* fields, not both")
            store.db_url = db_url
            store.shop_database.validate()
            return
        password = os.environ.get(db_password_env, "")
        ShopDatabase(host=db_host, port=db_port, user=db_user, password=password, database=db_name,
                     charset=db_charset, tls_verify=store.db_tls_verify, tls_ca=store.db_tls_ca,
                     tls_required=store.db_tls_required).validate()
        store.db_host, store.db_port, store.db_user, store.db_name = db_host, db_port, db_user, db_name
        store.db_charset = db_charset
        if password:
            store.secret = {**store.secret, "db_password": password}

    def do_list(self, **_):
        stores = list(Store.objects.all())
        if not stores:
            self._say("No stores yet: `ocbridge store add --help` says how to connect one.")
        for s in stores:
            state = ("not reachable yet" if not s.version else f"OpenCart {s.version}") + \
                ("" if s.enabled else ", switched off")
            self._say(f"#{s.pk}  {s.name}  {state}  store_id={s.oc_store_id}  {s.timezone} {s.country} "
                      f"{s.language} {s.currency}")

    def _find(self, ref: str) -> Store:
        s = Store.objects.filter(pk=int(ref)).first() if ref.isdigit() else Store.objects.filter(name=ref).first()
        if s is None:
            raise CommandError(f"No store {ref!r}; `ocbridge store list` shows them.")
        return s

    def do_check(self, *, store, **_):
        s = self._find(store)
        self._say(f"Checking #{s.pk} {s.name} (up to 10 s per step)…")
        result = opencart.check_store(s)
        if "profile" not in result:
            raise CommandError(result["message"])
        if result.get("version") and s.version != result["version"]:
            Store.objects.filter(pk=s.pk).update(version=result["version"])  # reachable now, or upgraded
        self._say(result["message"])
        prof = result["profile"]
        for label, mine, theirs in (("time zone", s.timezone, prof.timezone), ("language", s.language, prof.language),
                                    ("currency", s.currency, prof.currency), ("country", s.country, prof.country)):
            if theirs and mine != theirs:
                self._say(self.style.WARNING(f"Note: the shop's {label} is {theirs}, this store is set to {mine}."))
        try:
            shop = opencart.shop_db(s)
            with shop.engine.connect() as conn:
                count = conn.execute(sa.select(sa.func.count()).select_from(shop.t("order"))).scalar()
            self._say(f"Orders in the database: {count}")
        except (ServiceError, ConfigurationError) as exc:
            self._say(self.style.WARNING(f"Could not count the orders: {exc}"))
        if not (s.api_url and s.api_key):
            self._say("Native API: not configured — status changes are written to the database "
                      "(no OpenCart e-mails or events).")
        if not result["ok"]:
            raise CommandError("The store works only in part; see above.")

    def do_remove(self, *, store, yes, **_):
        s = self._find(store)
        if not yes:
            answer = input(f"Remove store #{s.pk} {s.name} with its connections, settings, confirmations and log? "
                           "Type the store's name to confirm: ")
            if answer.strip() != s.name:
                raise CommandError("Not removed.")
        pk, name = s.pk, s.name
        s.delete()
        self._say(self.style.SUCCESS(f"Removed store #{pk} {name}. The shop itself was not touched."))
