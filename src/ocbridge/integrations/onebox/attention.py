"""What OneBox sync adds to the owner's "needs attention" list (ocbridge.core.attention)."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import ngettext

from ocbridge.core.attention import Attention, register_attention


@register_attention("onebox.failed", order=35)
def failed(stores) -> list[Attention]:
    """Records OneBox refused (its message is on the sync page, with Retry). One COUNT per store with the
    integration."""
    from ocbridge.core.models import Binding, Integration
    from ocbridge.integrations.onebox.models import FAILED

    out = []
    for integration in Integration.objects.filter(store__in=stores, kind="onebox", connection__isnull=False):
        n = Binding.objects.filter(connection_id=integration.connection_id, kind__startswith="onebox.",
                                   data__state=FAILED).count()
        if n:
            out.append(Attention(
                key="onebox.failed", count=n, store=integration.store,
                link=reverse("onebox:overview", args=[integration.pk]) + "#failed",
                text=ngettext("%(n)d record could not be synced with OneBox",
                              "%(n)d records could not be synced with OneBox", n) % {"n": n}))
    return out
