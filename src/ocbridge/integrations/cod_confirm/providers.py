"""Which service client speaks for a Connection. Integrations are the only place that knows services."""

from __future__ import annotations

from importlib import import_module

from ocbridge.core.errors import ConfigurationError

CLIENTS = {
    "verimor": ("ocbridge.services.verimor", "VerimorClient"),
    "netgsm": ("ocbridge.services.netgsm", "NetgsmClient"),
    "twilio": ("ocbridge.services.twilio", "TwilioClient"),
    "sandbox": ("ocbridge.services.sandbox", "SandboxClient"),
    "whatsapp": ("ocbridge.services.whatsapp", "WhatsAppClient"),
}


def service_module(service: str):
    if service not in CLIENTS:
        raise ConfigurationError(f"{service} cannot confirm COD orders")
    return import_module(CLIENTS[service][0])


def client_class(service: str):
    module, name = CLIENTS.get(service, (None, None))
    if module is None:
        raise ConfigurationError(f"{service} cannot confirm COD orders")
    return getattr(import_module(module), name)


def client_for(connection):
    return client_class(connection.service)(connection)
