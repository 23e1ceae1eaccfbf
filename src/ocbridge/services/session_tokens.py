"""Session tokens bought with a login (Despatch Cloud, OneBox): cached per account, renewed once when refused.

One place for the rule both clients follow: reuse a token until its time is up; when the provider refuses it
(expired, revoked), drop it — unless a parallel call already replaced it — log in again once and repeat the call
once; a fresh token refused too is terminal.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

from ocbridge.core.errors import TerminalError

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
                raise TerminalError(self.service, exc.code, f"a fresh token was refused: {exc.message}") from None

    def forget(self) -> None:
        with self._lock:
            self._tokens.clear()
