"""What the shop writes add to the owner's "needs attention" list (ocbridge.core.attention): changes that did not
reach the shop — refused for good (wrong API key, a database user without UPDATE…) or still failing on retries."""

from __future__ import annotations

import datetime as dt

from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from ocbridge.core.attention import ERROR, Attention, register_attention

STILL_FAILING_AFTER = dt.timedelta(minutes=10)  # a write retried for this long is shown, not only a refused one


@register_attention("opencart.not_written", order=12)
def not_written(stores) -> Attention | None:
    from ocbridge.core import clock
    from ocbridge.opencart.models import ShopWrite

    qs = ShopWrite.objects.filter(store__in=stores).filter(
        Q(state=ShopWrite.State.FAILED)
        | (Q(state=ShopWrite.State.RUNNING) & ~Q(error="") & Q(created__lt=clock.now() - STILL_FAILING_AFTER)))
    n = qs.count()
    if not n:
        return None
    last = qs.order_by("-updated").values_list("error", flat=True).first() or ""
    return Attention(key="opencart.not_written", count=n, severity=ERROR, link=reverse("dashboard:jobs") + "?state=failed",
                     text=ngettext("%(n)d change was not written to the shop: %(why)s",
                                   "%(n)d changes were not written to the shop; the latest: %(why)s", n)
                     % {"n": n, "why": last[:200]})


@register_attention("opencart.shop_unreachable", order=14)
def shop_unreachable(stores) -> list[Attention]:
    """Stores whose shop database did not answer the last poll: since when, and the database's own words (the shop
    poll's PollHealth row, core.polls; core.attention's generic line for failing polls leaves this poll to us)."""
    from ocbridge.core.attention import plain_error
    from ocbridge.core.models import PollHealth
    from ocbridge.opencart.polling import POLL

    failing = {p.key: p for p in PollHealth.objects.filter(poll=POLL, key__in=stores.values("db_key"),
                                                           failing_since__isnull=False)}
    if not failing:
        return []
    return [Attention(key="opencart.shop_unreachable", count=1, severity=ERROR, store=s,
                      since=failing[s.db_key].failing_since, link=reverse("dashboard:store", args=[s.pk]),
                      text=_("%(store)s: the shop database does not answer: %(error)s") % {
                          "store": s.name, "error": plain_error(failing[s.db_key].error_text())})
            for s in stores.filter(db_key__in=failing, enabled=True).order_by("name")[:20]]
