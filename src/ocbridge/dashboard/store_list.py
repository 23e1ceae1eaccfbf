"""The store list at agency scale: search, filters and counts in a fixed number of queries, a page at a time.

An agency hub holds hundreds or thousands of stores: the list is searched and filtered in the database, paged
like every other list (dashboard.tables), and what each row shows (connections, features, whether reading its shop
fails) comes from subqueries and one prefetch for the whole page — never a query per store.
"""

from __future__ import annotations

from django import forms
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from ocbridge.core import access, polls, registry
from ocbridge.core.models import Connection, Integration, PollHealth, Store
from ocbridge.opencart.polling import POLL

SORTS = {"name": "name", "id": "id", "version": "version", "created": "created"}
VERSIONS = ("2.3", "3.0", "4.0")


class StoreListForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=100,
                        help_text=_("Store name, database name or host"))
    enabled = forms.ChoiceField(label=_("Enabled"), required=False,
                                choices=[("", _("All")), ("yes", _("yes")), ("no", _("no"))])
    feature = forms.ChoiceField(label=_("Feature"), required=False)
    version = forms.ChoiceField(label=_("OpenCart version"), required=False)
    reading = forms.ChoiceField(label=_("Reading"), required=False,
                                choices=[("", _("All")), ("failing", _("the shop failing")),
                                         ("any", _("the shop or a provider failing")),
                                         ("slow", _("on the slow lane"))],
                                help_text=_("Reads that keep failing wait before the next try (back-off). Reads "
                                            "that failed or took long run on threads of their own (the slow lane)."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["feature"].choices = [("", _("All"))] + sorted(
            ((kind, info.label) for kind, info in registry.integrations.items()), key=lambda c: str(c[1]))
        self.fields["version"].choices = ([("", _("All"))] + [(v, v) for v in VERSIONS]
                                          + [("unknown", _("not reachable yet"))])


def slow_lane() -> dict[int, dict]:
    """Store id → its reads on the slow lane: {"since": the earliest, "at": the latest poll there, "reads": how many}
    — one read of the lease store (core.polls.slow_lane) for the whole list, no query."""
    out: dict[int, dict] = {}
    for entry in polls.slow_lane().values():
        if entry.get("store") is None:
            continue
        row = out.setdefault(int(entry["store"]), {"since": entry["since"], "at": entry["at"], "reads": 0})
        row["since"], row["at"] = min(row["since"], entry["since"]), max(row["at"], entry["at"])
        row["reads"] += 1
    return out


def stores(form: StoreListForm, user, lane: dict[int, dict] | None = None) -> QuerySet:
    """The user's stores matching the form, each with its connection count (a subquery: counted for the page's
    rows only) and its integrations prefetched (one query for the page). `lane`: slow_lane(), for its filter."""
    data = form.cleaned_data if form.is_bound and form.is_valid() else {}
    qs = access.scoped(Store, user)
    if data.get("q"):
        q = data["q"].strip()
        qs = qs.filter(Q(name__icontains=q) | Q(db_name__icontains=q) | Q(db_host__icontains=q))
    if data.get("enabled"):
        qs = qs.filter(enabled=data["enabled"] == "yes")
    if data.get("feature"):
        qs = qs.filter(Exists(Integration.objects.filter(store=OuterRef("pk"), kind=data["feature"])))
    if data.get("version") == "unknown":
        qs = qs.filter(version="")
    elif data.get("version"):
        qs = qs.filter(version__startswith=data["version"])
    failing = PollHealth.objects.filter(poll=POLL, key=OuterRef("db_key"), failing_since__isnull=False)
    # the store's other routine reads (Despatch Cloud, OneBox, Ozon…) that fail: each waits out its back-off
    others = PollHealth.objects.filter(store=OuterRef("pk"), failing_since__isnull=False).exclude(poll=POLL)
    if data.get("reading") == "failing":
        qs = qs.filter(Exists(failing))
    elif data.get("reading") == "any":
        qs = qs.filter(Exists(failing) | Exists(others))
    elif data.get("reading") == "slow":
        qs = qs.filter(pk__in=sorted(slow_lane() if lane is None else lane))
    connections = (Connection.objects.filter(store=OuterRef("pk")).order_by().values("store")
                   .annotate(n=Count("pk")).values("n"))
    return qs.annotate(connection_count=Coalesce(Subquery(connections), 0),
                       reading_failing_since=Subquery(failing.values("failing_since")[:1]),
                       reading_retry_at=Subquery(failing.values("retry_at")[:1]),
                       reads_failing=Coalesce(Subquery(others.order_by().values("store").annotate(n=Count("pk"))
                                                       .values("n")), 0),
                       ).prefetch_related("integrations")


def summary(user) -> dict:
    """Counts over all the user's stores, in one query: how many, how many switched on."""
    return access.scoped(Store, user).aggregate(total=Count("pk"), enabled=Count("pk", filter=Q(enabled=True)))
