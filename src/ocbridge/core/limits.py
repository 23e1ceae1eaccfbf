"""Abuse limits a store's owner sets, within the hub's maximum (process settings).

Test calls/SMS cost the shop money and reach any number; failed logins guess passwords. The hub administrator sets
the default and the ceiling; an owner picks a number for their store up to the ceiling. A login belongs to a user,
not a store: a user of several stores gets the lowest limit of them (the strictest owner wins).
"""

from __future__ import annotations

from django.conf import settings


def test_sends_per_hour(store) -> int:
    chosen = store.test_sends_per_hour if store is not None else None
    limit = settings.TEST_SENDS_PER_HOUR if chosen is None else chosen
    return min(limit, settings.TEST_SENDS_MAX_PER_HOUR)


def login_fail_limit(username: str) -> int:
    """For a user name (unknown names: the hub's limit)."""
    from ocbridge.core.models import Store

    ceiling = settings.LOGIN_FAIL_LIMIT
    chosen = (Store.objects.filter(members__user__username__iexact=username, login_fail_limit__isnull=False)
              .values_list("login_fail_limit", flat=True))
    return min([ceiling, *chosen])
