"""The shared shop poll: each shop identity is read by opencart.feed.poll_shop every `Store.poll_seconds` (default
15 s; a shop with several stores at the shortest of theirs) — one read of its new orders and order_history rows,
handed to each integration after its own cursor. A routine poll (core.polls): no Job row, nothing written when
the shop is idle; what it finds becomes Jobs through the integrations' handlers."""

from __future__ import annotations

from dataclasses import replace

from django.utils.translation import gettext_lazy as _

from ocbridge.core.models import Store
from ocbridge.core.polls import Target, register_poll
from ocbridge.opencart import feed

POLL = "opencart.shop"


def shop_targets() -> list[Target]:
    """One target per shop identity with a feed consumer on an enabled store. Shops whose consumers are all
    switched off are polled too: their cursors stay, and what arrives meanwhile is "missed" when switched on."""
    targets: dict[str, Target] = {}
    stamps: dict[str, list] = {}
    integrations = feed.integration_stamps()
    for store in (Store.objects.filter(enabled=True, integrations__kind__in=feed.consumer_kinds()).distinct()
                  .order_by("poll_seconds", "pk")):
        key = feed.shop_key(store)
        targets.setdefault(key, Target(key=key, every=store.poll_seconds, store_id=store.pk))
        stamps.setdefault(key, []).append(feed.store_stamp(store))
    return [replace(t, stamp=(tuple(sorted(stamps[k])), integrations.get(k, ()))) for k, t in targets.items()]


@register_poll(POLL, targets=shop_targets, label=_("Reading new orders and status changes from the shop"),
               own_attention=True)  # opencart.attention: "the shop database does not answer"
def poll_shop(target: Target) -> None:
    feed.poll_shop(target.key, stamp=target.stamp, every=target.every)
