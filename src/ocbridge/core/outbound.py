"""Where a Connection may send its credentials (DESIGN.md 2026-12-06, "Provider hosts").

A provider's API lives on its own host (fixed), or on a per-account host matching its pattern (Despatch Cloud,
OneBox). Anything else — a simulator, a self-hosted gateway, a custom domain — must be listed by the hub's
administrator in the process setting OCBRIDGE_SIMULATOR_HOSTS (`host` or `host:port`); it is never a form's
choice, since "Test" sends the stored credentials to the base URL. No redirect is followed (core.http).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

from ocbridge.core.errors import ConfigurationError

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
PROVIDER_HOSTS: dict[str, tuple[str, ...]] = {
    "verimor": (r"api\.bulutsantralim\.com", r"sms\.verimor\.com\.tr"),
    "netgsm": (r"api\.netgsm\.com\.tr",),
    "twilio": (r"api\.twilio\.com",),
    "ozon": (r"api-seller\.ozon\.ru",),
    "whatsapp": (r"graph\.facebook\.com",),
    "telegram": (r"api\.telegram\.org",),
    "despatch": (_LABEL + r"\.despatchcloud\.co\.uk",),
    "onebox": (_LABEL + r"\.1b\.app", _LABEL + r"\.crm-onebox\.com"),
    # APS: hosted page and server API hosts, production and sandbox (payments.md A4)
    "aps": (r"(sb)?checkout\.payfort\.com", r"(sb)?paymentservices\.payfort\.com"),
}


def process_allowed(url: str) -> bool:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    allowed = {h.lower() for h in getattr(settings, "SIMULATOR_HOSTS", ()) or ()}
    return host in allowed or (parts.port is not None and f"{host}:{parts.port}" in allowed)


def check_base_url(service: str, url: str) -> str:
    """The URL as given when it may receive this service's credentials, else ConfigurationError saying why."""
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ConfigurationError(_("The base URL must not carry a user, a password, a query or a fragment."))
    if process_allowed(url):
        return url
    host = (parts.hostname or "").lower()
    patterns = PROVIDER_HOSTS.get(service, ())
    if not patterns:
        raise ConfigurationError(_("%(service)s has no public API host: its base URL can only be one the hub's "
                                   "administrator allows (OCBRIDGE_SIMULATOR_HOSTS).") % {"service": service})
    if parts.scheme != "https" or parts.port not in (None, 443):
        raise ConfigurationError(_("The base URL must be https on the standard port."))
    if not any(re.fullmatch(p, host) for p in patterns):
        hosts = ", ".join(p.replace("\\", "").replace(_LABEL, "<account>") for p in patterns)
        raise ConfigurationError(_("%(host)s is not a %(service)s API host (%(hosts)s); another host must be allowed "
                                   "by the hub's administrator (OCBRIDGE_SIMULATOR_HOSTS).")
                                 % {"host": host or url, "service": service, "hosts": hosts})
    return url
