"""The one HTTP client for outside services: fixed timeout, no redirects, errors turned into our taxonomy.

Every request is checked where it is sent (core.outbound.destination): the host must still be one this service may
reach and resolve to public addresses only; the connection goes to the address checked, the TLS name stays the
host's (so the certificate is verified against the name, not the address).
"""

from __future__ import annotations

import threading
from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpx
from django.utils.translation import gettext_noop

from ocbridge import __version__
from ocbridge.core import outbound
from ocbridge.core.errors import RetryableError, TerminalError, network_cause
from ocbridge.core.sentences import Sentence, sentence_of


class NetworkError(RetryableError):
    """The request failed in transit. `maybe_sent` tells whether the other side may have received it."""

    def __init__(self, service: str, code: str, message: str | Sentence, maybe_sent: bool):
        super().__init__(service, code, message)
        self.maybe_sent = maybe_sent


class DestinationRefused(TerminalError):
    """The request was not sent: its address is not one this service's credentials may go to."""


class _CheckedTransport(httpx.HTTPTransport):
    def __init__(self, service: str):
        super().__init__()
        self.service = service

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        try:
            address = outbound.destination(self.service, str(url))
        except outbound.DestinationRefused as exc:
            raise DestinationRefused(self.service, "destination", Sentence(
                gettext_noop("not sent to {host}: {detail}"), host=url.host, detail=sentence_of(exc) or str(exc))) from None
        except OSError as exc:  # the name does not resolve: said as httpx says it (never reached)
            raise httpx.ConnectError(str(exc), request=request) from exc
        if address is not None:  # pinned: the address checked is the one connected to (one client = one host, so
            # its pool, keyed by address, never mixes two names' TLS sessions)
            request.url = url.copy_with(host=address)
            request.extensions = {**request.extensions, "sni_hostname": url.host}
        return super().handle_request(request)


class _KeepNoCookies(DefaultCookiePolicy):
    """A jar that stores nothing. Every client is shared by all accounts of its service on a host (shared_client), so
    a cookie one account's answer sets (a load balancer's, a CDN's, a PHP session's) would go with the next
    account's requests. No provider we call needs one back (they authenticate by header, token, signature or
    parameters); a caller whose sessions live in cookies (OpenCart's API) keeps them per account itself and sends
    them per request."""

    def set_ok(self, cookie, request) -> bool:
        return False


class HttpClient:
    """Thin wrapper over httpx.Client; nothing in ocbridge calls httpx bare."""

    def __init__(self, service: str, base_url: str = "", timeout: float = 10.0, headers: dict | None = None):
        self.service = service
        self._client = httpx.Client(
            cookies=CookieJar(policy=_KeepNoCookies()),  # never a jar shared by accounts (see _KeepNoCookies)
            base_url=base_url,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            follow_redirects=False,
            transport=_CheckedTransport(service),
            headers={"User-Agent": f"ocbridge/{__version__}", **(headers or {})},
        )

    def request(self, method: str, url: str, **kwargs) -> httpx.Response:
        try:
            return self._client.request(method, url, **kwargs)
        # Sentences (core.sentences): a poll's failure is shown in each reader's language; the text stays English.
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:  # never reached the other side
            cause = Sentence(gettext_noop("no answer in time: a firewall may drop the connection")) \
                if isinstance(exc, httpx.ConnectTimeout) else None
            raise self._failed("connect", exc, cause, maybe_sent=False) from exc
        except httpx.TimeoutException as exc:  # sent, no answer in time: it may have been processed
            raise NetworkError(self.service, "timeout", Sentence(gettext_noop("sent, but no answer in time ({detail})"),
                                                                 detail=str(exc) or "timed out"),
                               maybe_sent=True) from exc
        except httpx.TransportError as exc:
            raise self._failed("transport", exc, None, maybe_sent=True) from exc

    def _failed(self, code: str, exc: Exception, cause: Sentence | None, *, maybe_sent: bool) -> NetworkError:
        """The failure said as its cause in the reader's words (read from httpx's text unless given), then that text."""
        text = str(exc) or type(exc).__name__
        return NetworkError(self.service, code, Sentence(gettext_noop("{cause} ({detail})"),
                                                         cause=network_cause(text) if cause is None else cause,
                                                         detail=text),
                            maybe_sent=maybe_sent)

    def build_url(self, url: str, params: dict | None = None) -> str:
        return str(self._client.build_request("GET", url, params=params).url)

    def close(self) -> None:
        self._client.close()


_shared: dict[tuple[str, str, float], HttpClient] = {}
_shared_lock = threading.Lock()


def shared_client(service: str, base_url: str, timeout: float = 30.0) -> HttpClient:
    """One HttpClient (connection pool, TLS context) per service and account host for the whole process: building
    one costs ~60 ms of certificate loading, more than a call itself, and every job builds a client. Every account
    of the service on that host uses it, so it keeps no cookies (_KeepNoCookies). Callers that wait differently
    get a client each (Netgsm's call control 10 s and its SMS 15 s on one host): the first caller's timeout must
    not become the others'."""
    key = (service, base_url, float(timeout))
    with _shared_lock:
        client = _shared.get(key)
        if client is None:
            client = _shared[key] = HttpClient(service, base_url=base_url, timeout=timeout)
        return client
