"""The one HTTP client for outside services: fixed timeout, no redirects, errors turned into our taxonomy."""

from __future__ import annotations

import threading

import httpx

from ocbridge import __version__
from ocbridge.core.errors import RetryableError, network_cause


class NetworkError(RetryableError):
    """The request failed in transit. `maybe_sent` tells whether the other side may have received it."""

    def __init__(self, service: str, code: str, message: str, maybe_sent: bool):
        super().__init__(service, code, message)
        self.maybe_sent = maybe_sent


class HttpClient:
    """Thin wrapper over httpx.Client; nothing in ocbridge calls httpx bare."""

    def __init__(self, service: str, base_url: str = "", timeout: float = 10.0, headers: dict | None = None):
        self.service = service
        self._client = httpx.Client(
            base_url=base_url,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            follow_redirects=False,
            headers={"User-Agent": f"ocbridge/{__version__}", **(headers or {})},
        )

    def request(self, method: str, url: str, **kwargs) -> httpx.Response:
        try:
            return self._client.request(method, url, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:  # never reached the other side
            text = str(exc) or type(exc).__name__
            cause = "no answer in time: a firewall may drop the connection" if isinstance(exc, httpx.ConnectTimeout) \
                else network_cause(text)
            raise NetworkError(self.service, "connect", f"{cause} ({text})", maybe_sent=False) from exc
        except httpx.TimeoutException as exc:  # sent, no answer in time: it may have been processed
            raise NetworkError(self.service, "timeout", f"sent, but no answer in time ({exc or 'timed out'})",
                               maybe_sent=True) from exc
        except httpx.TransportError as exc:
            text = str(exc) or type(exc).__name__
            raise NetworkError(self.service, "transport", f"{network_cause(text)} ({text})", maybe_sent=True) from exc

    def build_url(self, url: str, params: dict | None = None) -> str:
        return str(self._client.build_request("GET", url, params=params).url)

    def close(self) -> None:
        self._client.close()


_shared: dict[tuple[str, str], HttpClient] = {}
_shared_lock = threading.Lock()


def shared_client(service: str, base_url: str, timeout: float = 30.0) -> HttpClient:
    """One HttpClient (connection pool, TLS context) per service and account host for the whole process: building
    one costs ~60 ms of certificate loading, more than a call itself, and every job builds a client."""
    with _shared_lock:
        client = _shared.get((service, base_url))
        if client is None:
            client = _shared[(service, base_url)] = HttpClient(service, base_url=base_url, timeout=timeout)
        return client
