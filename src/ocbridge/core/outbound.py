"""Where a Connection may send its credentials (DESIGN.md 2026-12-06, "Provider hosts").

A provider's API lives on its own host (fixed), or on a per-account host matching its pattern (Despatch Cloud,
OneBox). Anything else — a simulator, a self-hosted gateway, a custom domain — must be listed by the hub's
administrator in the process setting OCBRIDGE_SIMULATOR_HOSTS (`host` or `host:port`); it is never a form's
choice, since "Test" sends the stored credentials to the base URL. No redirect is followed (core.http).

The form checks a URL when it is saved; `destination` checks every request again when it is sent (core.http), so a
value stored before the form's check existed, or a name whose DNS later points inside the hub's network, never
receives credentials: the name must still pass, every address it resolves to must be public, and the request goes
to the address that was checked (no second lookup an attacker's DNS could answer differently).

Its reasons are said (core.sentences), not translated where raised: a job refused in a worker reads, on its page, in
the language of whoever reads it.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext_noop

from ocbridge.core.errors import ConfigurationError
from ocbridge.core.sentences import Sentence, sentence_of

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
    "latitudepay": (r"api\.(uat\.)?latitudepay\.com", r"api\.(uat\.)?genoapay\.com"),  # payments.md B1
}

# Endpoints a provider documents off the https-on-443 rule (Netgsm's Netsantral: plain HTTP on 9111, netgsm.md §2.3).
FIXED_ENDPOINTS: dict[str, tuple[str, ...]] = {"netgsm": ("http://crmsntrl.netgsm.com.tr:9111",)}
# The shop's own native API: the owner types it; any public http(s) host.
SHOP_SERVICES = ("opencart",)


class DestinationRefused(ConfigurationError):
    """A request that must not be sent where it points; nothing was sent."""


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
        raise ConfigurationError(Sentence(gettext_noop(
            "The base URL must not carry a user, a password, a query or a fragment.")))
    check_origin(service, url)
    return url


def check_origin(service: str, url: str) -> None:
    """The scheme, host and port rule for a service's requests (ConfigurationError saying why)."""
    parts = urlsplit(url)
    if process_allowed(url):
        return
    if service in SHOP_SERVICES:
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigurationError(Sentence(gettext_noop("The shop's API URL must be an http or https address.")))
        return
    if f"{parts.scheme}://{parts.netloc}".lower() in FIXED_ENDPOINTS.get(service, ()):
        return
    host = (parts.hostname or "").lower()
    patterns = PROVIDER_HOSTS.get(service, ())
    if not patterns:
        raise ConfigurationError(Sentence(gettext_noop(
            "{service} has no public API host: its base URL can only be one the hub's administrator allows "
            "(OCBRIDGE_SIMULATOR_HOSTS)."), service=service))
    if parts.scheme != "https" or parts.port not in (None, 443):
        raise ConfigurationError(Sentence(gettext_noop("The base URL must be https on the standard port.")))
    if not any(re.fullmatch(p, host) for p in patterns):
        hosts = ", ".join(p.replace("\\", "").replace(_LABEL, "<account>") for p in patterns)
        raise ConfigurationError(Sentence(gettext_noop(
            "{host} is not a {service} API host ({hosts}); another host must be allowed by the hub's administrator "
            "(OCBRIDGE_SIMULATOR_HOSTS)."), host=host or url, service=service, hosts=hosts))


def destination(service: str, url: str) -> str | None:
    """At send time: the address to connect to for this request, or None to connect by name (a host the
    administrator allows). DestinationRefused when the request must not go; OSError when the name does not resolve."""
    try:
        check_origin(service, url)
    except ConfigurationError as exc:
        raise DestinationRefused(sentence_of(exc) or str(exc)) from None
    if process_allowed(url):
        return None
    parts = urlsplit(url)
    return public_address(parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))


def public_address(host: str, port: int) -> str:
    """One address of `host`, when every address it resolves to is public; DestinationRefused otherwise (a name
    answering both a public and an internal address is refused too: the connection could land on either)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses = [info[4][0] for info in infos]
    inner = [a for a in addresses if not ipaddress.ip_address(a.split("%")[0]).is_global]
    if inner or not addresses:
        raise DestinationRefused(Sentence(gettext_noop(
            "{host} resolves to {address}, which is not a public address; the hub's administrator must allow it "
            "(OCBRIDGE_SIMULATOR_HOSTS)."), host=host, address=", ".join(inner) or "-"))
    return addresses[0]
