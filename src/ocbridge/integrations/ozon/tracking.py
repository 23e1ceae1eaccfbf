"""Where an rFBS posting's tracking number comes from, in the owner's order of trust.

1. What another integration knows of the shop order (core.registry.facts_of: Despatch Cloud registers the
   tracking code it booked the parcel with, as `tracking_code`, naming itself in `tracking_by`).
2. The owner's pattern applied to the order's history comments (what the shop's staff typed when shipping),
   matched as the order-history feed passes them (`order_history` has no index on order_id, so we never
   go back and search it) and kept on the posting's Binding as `tracking_comment`.
3. A number typed in the hub on the posting's row (kept on the posting's Binding as `tracking_typed`).
The first that knows one wins; none → the posting is moved on without a tracking number and the row says so.
The source is kept as a code ("comment", "typed") or the integration's name, shown translated (labels.py).
"""

from __future__ import annotations

import re

from ocbridge.core import registry

COMMENT, TYPED = "comment", "typed"


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
    facts = registry.facts_of(store, order_id)
    if str(facts.get("tracking_code") or "").strip():
        return str(facts["tracking_code"]).strip()[:64], str(facts.get("tracking_by") or "")
    if data.get("tracking_comment"):
        return data["tracking_comment"], COMMENT
    if str(data.get("tracking_typed") or "").strip():
        return str(data["tracking_typed"]).strip(), TYPED
    return "", ""
