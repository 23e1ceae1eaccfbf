"""Session tokens bought with a login (Despatch Cloud, OneBox): cached per account, renewed once when refused.

One place for the rule both clients follow: reuse a token until its time is up; when the provider refuses it
(expired, revoked), drop it — unless a parallel call already replaced it — log in again once and repeat the call
once; a fresh token refused too is terminal. `LoginClient` is the start both clients share: the account's user
and password read (refused when empty), the account's base URL checked, the token's scope, the Exchange recorder
that masks the password, the pace.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from django.utils.translation import gettext_noop

from ocbridge.core import ratelimit
from ocbridge.core.errors import ConfigurationError, TerminalError
from ocbridge.core.sentences import Sentence
from ocbridge.core.exchanges import ExchangeRecorder
from ocbridge.core.http import HttpClient, shared_client

T = TypeVar("T")


class TokenRefused(TerminalError):
    """The provider does not accept our token (missing, expired, revoked): log in again once."""


class SessionTokens:
    """Tokens of one service, keyed by an account scope (connection, host, credential digest)."""

    def __init__(self, service: str, ttl: float):
        self.service, self.ttl = service, float(ttl)
        self._tokens: dict[tuple, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def store(self, scope: tuple, token: str) -> str:
        with self._lock:
            self._tokens[scope] = (token, time.monotonic() + self.ttl)
        return token

    def get(self, scope: tuple, login: Callable[[], str]) -> str:
        """The cached token, or a new one from `login()` (which calls `store`)."""
        with self._lock:
            cached = self._tokens.get(scope)
        if cached and cached[1] > time.monotonic():
            return cached[0]
        return login()

    def call(self, scope: tuple, login: Callable[[], str], send: Callable[[str], T]) -> T:
        """`send(token)`; on TokenRefused one new login and one repeat."""
        token = self.get(scope, login)
        try:
            return send(token)
        except TokenRefused:
            with self._lock:
                if self._tokens.get(scope, ("",))[0] == token:
                    self._tokens.pop(scope, None)
            token = self.get(scope, login)
            try:
                return send(token)
            except TokenRefused as exc:
                raise TerminalError(self.service, exc.code, Sentence(gettext_noop("a fresh token was refused: {detail}"),
                                                                     detail=exc.message)) from None

    def forget(self) -> None:
        with self._lock:
            self._tokens.clear()


class LoginClient:
    """A client of one Connection whose API user logs in with a user name and password for a session token.
    Subclasses name their `service`, the credential holding the user (`user_field`), the refusal when either is
    empty (`missing`), their `default_rps`, and `check_base_url` (the provider's host rule)."""

    service: str = ""
    user_field: str = ""
    missing: str = ""  # marked with gettext_noop: raised as a Sentence
    default_rps: float = 1.0

    @staticmethod
    def check_base_url(url: str) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def __init__(self, connection, *, http: HttpClient | None = None, rps: float | None = None, sleep=time.sleep):
        creds = connection.credentials()  # decrypted here, never logged
        self._user = str(creds.get(self.user_field) or "")
        self._password = str(creds.get("password") or "")
        if not self._user or not self._password:
            raise ConfigurationError(Sentence(self.missing))
        self.base_url = self.check_base_url(connection.base_url)
        # one token per account: connection, host and the credentials (a changed password logs in again)
        digest = hashlib.sha256(f"{self._user}\0{self._password}".encode()).hexdigest()[:16]
        self._scope = (connection.pk, self.base_url, digest)
        self._http = http or shared_client(self.service, self.base_url)
        self._recorder = ExchangeRecorder(self.service, connection=connection, secrets=[self._password])
        self._secrets = list(self._recorder.secrets)
        self._rps = float(rps or ratelimit.pace(self.service, connection.options, self.default_rps))
        self._sleep = sleep
        self.calls: dict[str, int] = {}
