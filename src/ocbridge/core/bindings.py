"""Two-way sync on a Binding (DESIGN.md "Bindings"): which side changed, echoes, conflicts.

A Binding keeps each side's content hash as of the last sync. When we write one side we record the hash that
side will show afterwards, so reading our own write back finds nothing changed (an echo, not sent back). When
both sides changed since the last sync it is a conflict, decided by the owner's rule; the side that wins is
written over the other and the loser's value is kept in `data["conflicts"]` for the log.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from ocbridge.core import clock

LOCAL, REMOTE = "local", "remote"

# The owner's conflict rules: one side always wins, or the change the hub detected last wins.
SHOP_WINS, SERVICE_WINS, NEWEST_WINS = "shop", "service", "newest"
CONFLICT_RULES = (SHOP_WINS, SERVICE_WINS, NEWEST_WINS)
CONFLICTS_KEPT = 20


def digest(value) -> str:
    """Stable content hash of a JSON-able value (key order and whitespace do not matter)."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Decision:
    """Which side to write now: LOCAL (the shop), REMOTE (the service) or None (nothing changed, or only an
    echo of our own write). `baseline`: the service side has no recorded hash yet; record it, write nothing."""

    write_to: str | None
    conflict: bool = False
    baseline: bool = False


def decide(binding, local_hash: str, remote_hash: str, rule: str, *,
           local_seen_at: datetime | None = None, remote_seen_at: datetime | None = None) -> Decision:
    """Compare both sides' current hashes with the Binding's and say which side to write.

    A side "changed" when its hash differs from the one recorded at the last sync. A Binding never synced
    (both hashes empty) is a first export from the shop. One synced one-way so far (no remote hash) takes the
    service's current value as its baseline. `*_seen_at` are the times the hub detected each change, for the
    "newest" rule; a tie or an unknown time goes to the shop.
    """
    if rule not in CONFLICT_RULES:
        raise ValueError(f"unknown conflict rule {rule!r}")
    local_changed = local_hash != binding.local_hash
    if not binding.local_hash and not binding.remote_hash:
        return Decision(REMOTE)
    if not binding.remote_hash:
        return Decision(REMOTE if local_changed else None, baseline=not local_changed)
    remote_changed = remote_hash != binding.remote_hash
    if local_changed and remote_changed:
        if rule == SHOP_WINS:
            return Decision(REMOTE, conflict=True)
        if rule == SERVICE_WINS:
            return Decision(LOCAL, conflict=True)
        newer_remote = remote_seen_at is not None and local_seen_at is not None and remote_seen_at > local_seen_at
        return Decision(LOCAL if newer_remote else REMOTE, conflict=True)
    if local_changed:
        return Decision(REMOTE)
    if remote_changed:
        return Decision(LOCAL)
    return Decision(None)


def record(binding, *, local_hash: str, remote_hash: str, origin: str, lost: dict | None = None,
           save: bool = True) -> None:
    """Store both sides' hashes after a sync that made them agree; `lost` is the overwritten side of a conflict."""
    if origin not in (LOCAL, REMOTE):
        raise ValueError(f"unknown origin {origin!r}")
    binding.local_hash, binding.remote_hash, binding.last_origin = local_hash, remote_hash, origin
    binding.synced_at = clock.now()
    if lost is not None:
        kept = list(binding.data.get("conflicts") or [])[-(CONFLICTS_KEPT - 1):]
        binding.data = {**binding.data, "conflicts": kept + [{**lost, "at": binding.synced_at.isoformat()}]}
    if save:
        binding.save(update_fields=["local_hash", "remote_hash", "last_origin", "synced_at", "data"])
