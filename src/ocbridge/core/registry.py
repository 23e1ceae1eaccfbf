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
