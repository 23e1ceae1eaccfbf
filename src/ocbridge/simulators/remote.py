"""Drive a simulator running in another process through its `/_sim/` control API."""

from __future__ import annotations

import json
from typing import Any, Callable

from .wire import http_call


class RemoteSimulator:
    """Drives a simulator in another process through its /_sim/ control API: `remote.fail_next(kind="500")`."""

    def __init__(self, base_url: str, timeout: float = 10.0):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def call(self, method: str, **kwargs) -> Any:
        body = json.dumps(kwargs).encode("utf-8")
        status, text, error, _ = http_call("POST", f"{self.base_url}/_sim/{method}", body,
                                           {"Content-Type": "application/json"}, self.timeout)
        if error:
            raise ConnectionError(error)
        data = json.loads(text)
        if status != 200:
            raise RuntimeError(data.get("error", text))
        return data["result"]

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda **kwargs: self.call(name, **kwargs)
