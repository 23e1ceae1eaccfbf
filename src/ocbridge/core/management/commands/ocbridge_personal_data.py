"""`ocbridge personal-data export|erase NUMBER`: a person's data in the hub's own tables, found by phone number —
exported as JSON or erased (masked) on their request; every store, or one with --store. Audited."""

import json
import sys

from django.core.management.base import BaseCommand, CommandError

from ocbridge.core import clock, personal_data
from ocbridge.core.models import AuditEntry, Store


class Command(BaseCommand):
    help = "Export or erase a person's data (found by phone number) in the hub's own records."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["export", "erase"])
        parser.add_argument("phone", help="the number, e.g. +905321234567 (or national with --country)")
        parser.add_argument("--store", type=int, help="only this store (its id); default every store")
        parser.add_argument("--country", default="TR", help="for a number without +country code (default TR)")
        parser.add_argument("--yes", action="store_true", help="erase without asking")

    def handle(self, *args, action, phone, store=None, country="TR", yes=False, **opts):
        try:
            e164 = personal_data.normalize(phone, country)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        target = None
        if store is not None:
            target = Store.objects.filter(pk=store).first()
            if target is None:
                raise CommandError(f"no store with id {store}")
        ids = [target.pk] if target else None
        who = "cli"
        if action == "export":
            found = personal_data.export(e164, ids)
            self._audit(who, "personal_data.export", target, e164, {k: len(v) for k, v in found.items()})
            json.dump({"phone": e164, "store": target.name if target else None, "exported_at": clock.now().isoformat(),
                       "data": found}, self.stdout, ensure_ascii=False, indent=2)
            self.stdout.write("\n")
            return
        if not yes:
            if not sys.stdin.isatty():
                raise CommandError("add --yes to erase without a terminal to confirm on")
            answer = input(f"Erase every record of {e164} in {target.name if target else 'every store'}? [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                raise CommandError("nothing erased")
        done = personal_data.erase(e164, ids)
        self._audit(who, "personal_data.erase", target, e164, done)
        self.stdout.write(self.style.SUCCESS(f"erased {sum(done.values())} records: {done or 'none held this number'}"))

    @staticmethod
    def _audit(who, action, store, e164, rows):
        AuditEntry.objects.create(created=clock.now(), user=who, action=action, store=store,
                                  object_type="store" if store else "", object_id=str(store.pk) if store else "",
                                  data={"phone": e164[:-4] + "****", "rows": rows})
