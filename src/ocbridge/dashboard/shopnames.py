"""Order status and payment method names as the shop itself shows them, for pages that hold only ids and codes.

Read from the shop once per store and reader language, kept 10 minutes; an unreachable shop gives the ids and codes
back (kept 1 minute, so a page never waits on a dead shop twice in a row).
"""

from __future__ import annotations

import logging

from django.core.cache import cache
from django.utils.translation import get_language

log = logging.getLogger(__name__)
FRESH, FAILED = 600, 60


def _read(store, lang: str) -> tuple[dict[int, str], dict[str, str]]:
    from ocbridge import opencart
    from ocbridge.opencart import payments, statuses

    shop = opencart.shop_db(store)
    langs = statuses.languages(shop)
    wanted = [lang, (store.language or "")[:2]]
    lang_id = next((i for want in wanted for i, code in langs.items() if want and code.lower().startswith(want)),
                   next(iter(langs), None))
    return statuses.statuses(shop, lang_id), payments.methods_seen(shop)


def names(store) -> tuple[dict[int, str], dict[str, str]]:
    """({status_id: name}, {payment code: title}) of a store, in the reader's language where the shop has it."""
    if store is None or not getattr(store, "pk", None):
        return {}, {}
    lang = (get_language() or "en")[:2]
    key = f"ocbridge:shopnames:{store.pk}:{lang}"
    hit = cache.get(key)
    if hit is not None:
        return hit
    try:
        value, ttl = _read(store, lang), FRESH
    except Exception as exc:  # unreachable or misconfigured shop: ids and codes are shown instead
        log.info("shop names of store %s not readable: %s", store.pk, exc)
        value, ttl = ({}, {}), FAILED
    cache.set(key, value, ttl)
    return value


def status_name(store, status_id) -> str:
    if status_id in (None, ""):
        return "—"
    name = names(store)[0].get(int(status_id))
    return f"{name} ({status_id})" if name else str(status_id)


def payment_title(store, code: str) -> str:
    if not code:
        return "—"
    title = names(store)[1].get(code)
    return f"{title} ({code})" if title and title != code else code
