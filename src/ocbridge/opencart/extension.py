"""Our optional OpenCart extension (extension/opencart/: 3.0 and 4.0) and the hub: one signing secret per Store.

The extension signs what it sends the hub — the checkout hand-over to the pay page now, order-event pushes
later — with HMAC-SHA256 over `<store number>.<order id>.<unix time>` keyed by the Store's secret (kept encrypted
with the Store's other secrets). No business logic lives in PHP: it names an order, the hub reads the shop.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from ocbridge.core import clock

SECRET_KEY = "extension_secret"
MAX_AGE = 3600  # seconds a signed hand-over stays good (the customer's browser follows it at once)
MAX_SKEW = 300  # seconds the shop's clock may run ahead of ours


def secret_of(store, *, create: bool = False) -> str:
    """The Store's extension signing secret ("" when none); `create` makes and saves one when missing."""
    value = str((store.secret or {}).get(SECRET_KEY) or "")
    if not value and create:
        value = new_secret(store)
    return value


def new_secret(store) -> str:
    """A fresh secret (the old one stops working at once: the owner pastes the new one into the extension)."""
    value = secrets.token_hex(24)
    store.secret = {**(store.secret or {}), SECRET_KEY: value}
    store.save(update_fields=["secret"])
    return value


def sign(secret: str, *parts) -> str:
    return hmac.new(secret.encode(), ".".join(str(p) for p in parts).encode(), hashlib.sha256).hexdigest()


def verify(store, order_id: int, ts: int, signature: str) -> str:
    """"" when the extension of this Store signed (store, order, ts) recently; else why not (for the log)."""
    secret = secret_of(store)
    if len(secret) < 32:
        return "the store has no extension signing secret"
    if not hmac.compare_digest(sign(secret, store.pk, int(order_id), int(ts)), str(signature).lower()):
        return "signature does not match the store's extension secret"
    age = clock.now().timestamp() - int(ts)
    if age > MAX_AGE or age < -MAX_SKEW:
        return f"signed {int(age)} s ago: too old (or the shop's clock is wrong)"
    return ""
