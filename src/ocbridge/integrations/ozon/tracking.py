"""Where an rFBS posting's tracking number comes from, in the owner's order of trust.

1. A source another integration registers (Despatch Cloud, when it runs for the store: it booked the parcel).
2. The owner's pattern applied to the order's history comments (what the shop's staff typed when shipping),
   matched as the order-history feed passes them (`order_history` has no index on order_id, so we never
   go back and search it) and kept on the posting's Binding as `tracking_comment`.
3. A number typed in the hub on the posting's row (kept on the posting's Binding as `tracking_typed`).
The first that knows one wins; none → the posting is moved on without a tracking number and the row says so.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# (store, order_id) → tracking number or None; registered by other integrations at start-up (Despatch Cloud).
_SOURCES: list[Callable] = []


def register_source(fn: Callable) -> Callable:
    """Decorator for a tracking source: fn(store, order_id) -> str | None."""
    if fn not in _SOURCES:
        _SOURCES.append(fn)
    return fn


def from_comments(pattern: str, comments: list[str]) -> str | None:
    """The newest comment's match: the first group if the pattern has one, else the whole match."""
    if not pattern:
        return None
    rx = re.compile(pattern, re.IGNORECASE)
    for text in reversed(comments):
        m = rx.search(text or "")
        if m:
            value = (m.group(1) if rx.groups else m.group(0)).strip()
            if value:
                return value[:64]
    return None


def find(store, order_id: int, data: dict) -> tuple[str, str]:
    """(tracking number, where it came from) or ("", ""); `data` is the posting Binding's data."""
    for source in _SOURCES:
        value = source(store, order_id)
        if value:
            return str(value), getattr(source, "label", source.__name__)
    if data.get("tracking_comment"):
        return data["tracking_comment"], "history comment"
    if str(data.get("tracking_typed") or "").strip():
        return str(data["tracking_typed"]).strip(), "typed in the hub"
    return "", ""
