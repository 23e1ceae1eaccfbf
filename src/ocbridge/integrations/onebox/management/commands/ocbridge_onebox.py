"""`ocbridge onebox`: the first loads of a store's OneBox sync — start or continue one, and see how far they are.

    ocbridge onebox status [--store ID]                      each load: done / total, percent, time left
    ocbridge onebox load --store ID --kind order|contact|product|contact_in|category_in|brand_in [--run]
        starts the load (or continues it where it stopped); the worker runs it at OneBox's pace. With --run
        this process runs it and prints its progress after every step (Ctrl-C stops; `load` again continues).
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

# *_in: what OneBox had (contacts, categories, brands) into the shop
KINDS = ("order", "contact", "product", "contact_in", "category_in", "brand_in")


class Command(BaseCommand):
    help = "Start, continue and watch the first loads of a store's OneBox sync."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["status", "load"])
        parser.add_argument("--store", type=int, help="the store's number (ocbridge store list)")
        parser.add_argument("--kind", choices=KINDS, help="order history, customers or the catalogue to OneBox; "
                            "contact_in, category_in, brand_in: what OneBox has into the shop")
        parser.add_argument("--run", action="store_true", help="run the load in this process, printing progress")

    def handle(self, *args, action, store=None, kind=None, run=False, **opts):
        from ocbridge.core.models import Integration
        from ocbridge.integrations.onebox import jobs

        integrations = Integration.objects.filter(kind="onebox").select_related("store")
        if store is not None:
            integrations = integrations.filter(store_id=store)
        if not integrations:
            raise CommandError("no OneBox sync is set up" + (f" for store {store}" if store is not None else ""))
        if action == "status":
            for integration in integrations:
                for k in KINDS:
                    self.stdout.write(f"store {integration.store_id} {k:8} {self._line(jobs.progress(integration, k))}")
            return
        if store is None or kind is None:
            raise CommandError("load needs --store and --kind")
        integration = integrations[0]
        job = jobs.start_load(integration, kind)
        self.stdout.write(f"store {store} {kind}: load queued ({job.key})")
        if run:
            from ocbridge.core.jobs import run_until_idle

            while not jobs.progress(integration, kind).get("finished"):
                if not run_until_idle(max_rounds=1):
                    break
                self.stdout.write(f"store {store} {kind:8} {self._line(jobs.progress(integration, kind))}")
        self.stdout.write(f"store {store} {kind:8} {self._line(jobs.progress(integration, kind))}")

    @staticmethod
    def _line(p: dict) -> str:
        if not p.get("started"):
            return "not started"
        head = f"{p.get('done', 0):,} / {p.get('total', 0):,} ({p['percent']} %)"
        if p.get("finished"):
            return f"{head} done"
        eta = p.get("eta_seconds")
        return f"{head}, " + ("measuring the pace…" if eta is None else f"about {eta // 60} min {eta % 60} s left "
                                                                        "at OneBox's pace")
