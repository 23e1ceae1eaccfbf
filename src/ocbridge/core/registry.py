"""Registries filled at start-up from each app's AppConfig.ready(): integrations and webhook handlers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class IntegrationInfo:
    kind: str  # "cod_confirm"
    label: str  # translatable
    services: tuple[str, ...]  # which Connection services it can use
    config_form: object = None  # settings form class
    url_namespace: str = ""
    extras: dict = field(default_factory=dict)


integrations: dict[str, IntegrationInfo] = {}
# (service, hook name) -> handler(request, connection, exchange) -> HttpResponse
webhooks: dict[tuple[str, str], Callable] = {}
# integration kind -> fn(integration, order) called with each new order of the integration's store.
# One shared poll per shop database feeds them all: two pollers would split one watermark's orders.
order_consumers: dict[str, Callable] = {}
# integration kind -> fn(integration, order): orders that arrived while the integration was switched off
# (optional; without one they go to the order consumer). See ocbridge.opencart.feed.
missed_order_handlers: dict[str, Callable] = {}
# integration kind -> fn(integration, events, *, missed) with the order_history rows of the store after the
# integration's own cursor (ocbridge.opencart.feed documents the contract).
history_consumers: dict[str, Callable] = {}
# integration kind -> fn(integration, *, orders, events, missed) -> dict: the shop reads that kind's feed handlers need,
# made by the feed just before the hub transaction the handlers run in (on SQLite that transaction holds the hub's
# write lock: a shop read inside it holds every other writer). The handlers find the dict in
# ocbridge.opencart.feed.prepared() while they run.
feed_readers: dict[str, Callable] = {}
# integration kind -> fn(store, order_id) -> dict | None: what that integration knows of a shop order that other
# features may tell the customer (e.g. despatch: {"tracking_code", "courier"}). Shared through core, since
# integrations do not import each other.
order_facts: dict[str, Callable] = {}
# integration kind -> fn(integration, stock_source) -> "" or why that integration's settings contradict the store's
# stock source (DESIGN "One stock source per store"); the store form refuses a source one of them contradicts.
stock_source_checks: dict[str, Callable] = {}
# payment integration kind -> fn(integration, order_id, *, origin, actor) -> PayLink: a payment for the order's
# total and its /pay/ link (idempotent per order and origin). How other integrations offer payment (COD → pay now).
pay_link_makers: dict[str, Callable] = {}
# integration kind -> fn(store, order_id, *, reference, state): a payment of the order reached "paid"/"authorised".
payment_listeners: dict[str, Callable] = {}


@dataclass(frozen=True)
class PayLink:
    payment_id: int
    reference: str
    url: str
    expires_at: object  # aware datetime
    amount: str  # "229.90 TRY", for texts


def register_integration(info: IntegrationInfo) -> None:
    if info.kind in integrations and integrations[info.kind] is not info:
        raise ValueError(f"integration {info.kind} registered twice")
    integrations[info.kind] = info


def register_webhook(service: str, hook: str) -> Callable:
    """Decorator for an inbound handler reached at /hooks/<service>/<token>/<hook>."""

    def deco(fn):
        key = (service, hook)
        if key in webhooks and webhooks[key] is not fn:
            raise ValueError(f"webhook {service}/{hook} registered twice")
        webhooks[key] = fn
        return fn

    return deco


def register_order_consumer(kind: str) -> Callable:
    """Decorator: `fn(integration, order)` receives every new order of stores where `kind` is enabled
    (ocbridge.opencart.feed documents the contract)."""
    return _register_once(order_consumers, "order consumer", kind)


def register_order_facts(kind: str) -> Callable:
    """Decorator: `fn(store, order_id) -> dict | None` adds what `kind` knows of an order (see `facts_of`)."""
    return _register_once(order_facts, "order facts", kind)


def register_stock_source_check(kind: str) -> Callable:
    """Decorator: `fn(integration, stock_source) -> str` says why `kind`'s settings contradict a stock source."""
    return _register_once(stock_source_checks, "stock source check", kind)


def stock_source_conflicts(store, source: str) -> list[str]:
    """What the store's integrations say against `source` as its stock source (empty: nothing)."""
    from ocbridge.core.models import Integration

    out = []
    for integration in Integration.objects.filter(store=store):
        check = stock_source_checks.get(integration.kind)
        why = check(integration, source) if check else ""
        if why:
            out.append(str(why))
    return out


def facts_of(store, order_id: int) -> dict:
    """Every registered integration's facts about one order, merged (later kinds do not overwrite earlier ones)."""
    out: dict = {}
    for fn in order_facts.values():
        for k, v in (fn(store, order_id) or {}).items():
            out.setdefault(k, v)
    return out


def _register_once(table: dict, what: str, kind: str) -> Callable:
    """A decorator registering one function per kind (the same function again is fine: module reloads)."""

    def deco(fn):
        if kind in table and table[kind] is not fn:
            raise ValueError(f"{what} {kind} registered twice")
        table[kind] = fn
        return fn

    return deco


def register_missed_orders(kind: str) -> Callable:
    """Decorator: `fn(integration, order)` receives the orders that arrived while `kind` was switched off."""
    return _register_once(missed_order_handlers, "missed-orders handler", kind)


def register_history_consumer(kind: str) -> Callable:
    """Decorator: `fn(integration, events, *, missed)` receives the store's order_history rows (opencart.feed)."""
    return _register_once(history_consumers, "history consumer", kind)


def register_feed_reader(kind: str) -> Callable:
    """Decorator: `fn(integration, *, orders, events, missed) -> dict` reads from the shop what `kind`'s feed
    handlers need, outside the hub transaction (opencart.feed)."""
    return _register_once(feed_readers, "feed reader", kind)


def register_pay_link_maker(kind: str) -> Callable:
    """Decorator: `fn(integration, order_id, *, origin, actor) -> PayLink` makes a payment integration's pay link."""
    return _register_once(pay_link_makers, "pay link maker", kind)


def register_payment_listener(kind: str) -> Callable:
    """Decorator: `fn(store, order_id, *, reference, state)` hears when a payment of an order is taken."""
    return _register_once(payment_listeners, "payment listener", kind)


def payment_taken(store, order_id: int, *, reference: str, state: str) -> None:
    """Tell every listener that an order's payment reached a money state (called inside the state change's
    transaction, so a listener's own keyed work commits with it)."""
    for fn in payment_listeners.values():
        fn(store, order_id, reference=reference, state=state)
