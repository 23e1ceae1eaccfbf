"""Error taxonomy: it alone decides whether a job is retried (DESIGN.md "Errors are classified")."""

from __future__ import annotations

from django.utils.translation import gettext_noop

from ocbridge.core.sentences import Sentence


class ServiceError(Exception):
    """A failed exchange with an outside service or the shop."""

    retryable = False

    def __init__(self, service: str, code: object = None, message: str | Sentence = "",
                 retry_after: float | None = None):
        self.service = service
        self.code = code
        # A Sentence is kept (`said`) for a page to show in its reader's language; `message` stays text, in English
        # whatever language is active (rows and logs that store it read as they did when it was text).
        self.said = message if isinstance(message, Sentence) else None
        self.message = message.english() if self.said else str(message)
        self.retry_after = retry_after
        super().__init__(f"{service}: {code} {self.message}".strip())


class RetryableError(ServiceError):
    """Network error, timeout, 429, 5xx, a database that is down: try again later."""

    retryable = True


class TerminalError(ServiceError):
    """4xx, validation, bad credentials: retrying cannot help; shown to the user with the service's message."""


class UnknownOutcomeError(ServiceError):
    """An earlier attempt with the same idempotency key may have reached the provider and we cannot ask it.

    Never resend at once: the caller marks the attempt unknown and moves on (DESIGN.md exactly-once rule).
    """


def never_reached(exc: Exception) -> bool:
    """The request never got an answer from the service (DNS, refused, timeout): not the service refusing us."""
    return getattr(exc, "code", None) in ("connect", "timeout", "transport")


class ConfigurationError(Exception):
    """Settings that cannot work (wrong DB URL, unsupported OpenCart version…); message says which and why."""


def network_cause(message: str) -> Sentence:
    """Which network failure a driver message describes, in the words an owner can act on (in the language of
    whoever reads it: core.sentences)."""
    low = message.lower()
    if any(w in low for w in ("name or service not known", "nodename nor servname", "getaddrinfo", "no address",
                              "temporary failure in name resolution", "unknown host")):
        return Sentence(gettext_noop("the host name does not resolve (DNS)"))
    if "refused" in low:
        return Sentence(gettext_noop("connection refused: nothing listens on that host and port"))
    if "timed out" in low or "timeout" in low:
        return Sentence(gettext_noop("no answer in time: a firewall may drop the connection"))
    if "lost connection" in low or "gone away" in low:
        return Sentence(gettext_noop("the server closed the connection"))
    return Sentence(gettext_noop("network error"))


def rate_limited(detail: str) -> Sentence:
    """A provider's "too many requests", with its own words: said so each reader reads it (core.sentences)."""
    return Sentence(gettext_noop("rate limited: {detail}"), detail=detail)


def server_error(status: int, detail: str) -> Sentence:
    """A provider answering with a server fault (HTTP 5xx), with its own words, said (core.sentences)."""
    return Sentence(gettext_noop("server error (HTTP {status}): {detail}"), status=status, detail=detail)


def http_status(status: int, detail: str = "") -> Sentence:
    """An HTTP error status outside the provider's own error format (a proxy or firewall in front, an empty 4xx),
    with what came with it, said (core.sentences)."""
    if not detail.strip():
        return Sentence(gettext_noop("answered HTTP {status} without a body"), status=status)
    return Sentence(gettext_noop("answered HTTP {status}: {detail}"), status=status, detail=detail)


def unreadable(text: str) -> Sentence:
    """An answer no parser accepts (a proxy in the way), with its first 200 characters, said (core.sentences)."""
    return Sentence(gettext_noop("unreadable answer: {detail}"), detail=repr(text[:200]))


def credentials_refused(which: str, detail: str) -> Sentence:
    """A provider refusing the account's credentials (`which`: a gettext_noop naming them), with its own words."""
    return Sentence(gettext_noop("{which} refused: {detail}"), which=Sentence(which), detail=detail)


def parse_retry_after(value: str | None, default: float | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date)."""
    if not value:
        return default
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    from ocbridge.core import clock

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    return max(0.0, (when - clock.now()).total_seconds())
