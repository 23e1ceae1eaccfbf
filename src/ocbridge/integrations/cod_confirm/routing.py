"""Which store an event belongs to when one provider account serves several stores (Connection.shared_with).

A shared account has one webhook URL and one inbox for all its stores. Results of our own calls and SMS are matched
by what the provider echoes (provider id, our correlation number: core.outbox.match) and searched only among the
stores the account serves. A customer's reply carries only their number: it goes to the one store with an open
confirmation for that number; when several stores have one, every such order goes to a person with the reply
(we cannot know which shop they answered); when none has, nobody is answered automatically and the log says so.
Never to a store the account does not serve, never to a guessed one.
"""

from __future__ import annotations

from ocbridge.core import config_cache
from ocbridge.core.models import Connection, Integration

KIND = "cod_confirm"


def served(connection_id) -> list[int]:
    conn = Connection.objects.filter(pk=connection_id).first()
    return conn.served_store_ids() if conn is not None else []


def is_shared(connection: Connection | None) -> bool:
    return connection is not None and len(connection.served_store_ids()) > 1


def integration_of(connection: Connection):
    """The COD integration a webhook of this account starts with: the owning store's, else the first store served."""
    served = config_cache.integrations_of_stores(connection.served_store_ids(), KIND, with_settings=False)
    return next(iter(served), None)


def integration_id_of(connection: Connection) -> int | None:
    """`integration_of(connection).pk`, without copying the cached rows (a webhook only names it in its jobs)."""
    for store_id in connection.served_store_ids():
        pk = config_cache.integration_id(store_id, KIND)
        if pk is not None:
            return pk
    return None


def for_reply(connection: Connection, phone_raw: str, open_states) -> tuple[list[Integration], str]:
    """The integrations of the served stores with an open confirmation for this number ([] none, 2+ ambiguous),
    and the number as normalized."""
    from ocbridge.integrations.cod_confirm import shop
    from ocbridge.integrations.cod_confirm.models import Confirmation

    integrations = list(Integration.objects.filter(store_id__in=connection.served_store_ids(), kind=KIND)
                        .select_related("store"))
    found, phone = [], ""
    for integration in integrations:
        phone = shop.normalize_phone(phone_raw, integration.store.country) or phone
        if phone and Confirmation.objects.filter(store_id=integration.store_id, phone=phone,
                                                 state__in=open_states).exists():
            found.append(integration)
    return found, phone


def claim(exchange, store_id: int | None) -> None:
    """The inbound request was logged under the account's owning store; once routed it belongs to the store it is
    about (so only that store's users read it)."""
    if exchange is not None and store_id is not None and exchange.store_id != store_id:
        type(exchange).objects.filter(pk=exchange.pk).update(store_id=store_id)
        exchange.store_id = store_id
