"""What Despatch Cloud fulfilment adds to the owner's "needs attention" list (ocbridge.core.attention)."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import ngettext

from ocbridge.core.attention import Attention, register_attention


@register_attention("despatch.refused", order=30)
def refused(stores) -> list[Attention]:
    """Orders Despatch Cloud refused (its message is on the fulfilment page, with Retry). One COUNT per store that
    has the integration, bounded by the number of such stores."""
    from ocbridge.core.models import Binding, Integration
    from ocbridge.integrations.despatch.models import ORDER, OrderState

    out = []
    for integration in Integration.objects.filter(store__in=stores, kind="despatch", connection__isnull=False):
        n = Binding.objects.filter(connection_id=integration.connection_id, kind=ORDER,
                                   data__state=OrderState.REFUSED).count()
        if n:
            out.append(Attention(
                key="despatch.refused", count=n, orders=True, store=integration.store,
                link=reverse("despatch:overview", args=[integration.pk]) + "?state=refused",
                text=ngettext("%(n)d order was refused by Despatch Cloud", "%(n)d orders were refused by Despatch Cloud",
                              n) % {"n": n}))
    return out
