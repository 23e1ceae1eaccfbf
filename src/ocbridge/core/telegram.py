"""Telegram from the hub: owner alerts through a bot (Bot API `sendMessage`), a side effect like any other.

Which bot: the store's enabled Connection of service "telegram" (credential `bot_token`, encrypted like every
credential), else the hub-wide bot OCBRIDGE_TELEGRAM_BOT_TOKEN. The API host is api.telegram.org; a connection's
base URL may point elsewhere only where the administrator allows it (OCBRIDGE_SIMULATOR_HOSTS), and the hub-wide
OCBRIDGE_TELEGRAM_API_URL exists for the simulator. The token travels in the URL path
(`/bot<token>/sendMessage`, https://core.telegram.org/bots/api "Making requests"): every Exchange masks it.

How answers are read (same document): `ok` true → the Message's `message_id` is the provider id. `ok` false:
429 flood control → not sent, retried after `parameters.retry_after`; 400/401/403/404 → refused with Telegram's
own `description` ("Bad Request: chat not found", "Forbidden: bot was blocked by the user", "Unauthorized");
500/502/504, a timeout or an unreadable 2xx → it may have gone out: unknown, never resent (core.outbox).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext_noop

from ocbridge.core import outbound, outbox
from ocbridge.core.choices import SideEffectState
from ocbridge.core.errors import (
    RetryableError, ServiceError, TerminalError, http_status, parse_retry_after, rate_limited, server_error, unreadable,
)
from ocbridge.core.exchanges import ExchangeRecorder
from ocbridge.core.http import shared_client
from ocbridge.core.models import Connection, Store
from ocbridge.core.sentences import Sentence, listed, sentence_of

SERVICE = "telegram"
API_URL = "https://api.telegram.org"
MAX_TEXT = 4096  # sendMessage: "1-4096 characters after entities parsing"
TOKEN = re.compile(r"\d{3,}:[A-Za-z0-9_-]{20,}")  # "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11" (Bot API, Authorizing)
CHAT_ID = re.compile(r"-?\d{1,20}|@[A-Za-z][A-Za-z0-9_]{4,31}")  # a numeric id, or @channelusername


class TelegramNotSet(Exception):
    """Neither the store nor the hub has a Telegram bot."""


@dataclass(frozen=True)
class Bot:
    token: str
    base_url: str
    connection: Connection | None = None  # None: the hub-wide bot


def hub_bot() -> Bot | None:
    token = getattr(settings, "TELEGRAM_BOT_TOKEN", "") or ""
    return Bot(token, getattr(settings, "TELEGRAM_API_URL", "") or API_URL) if token else None


def bot_for(store: Store | None) -> Bot | None:
    """The store's own bot when it has one, else the hub's; None when Telegram is not set up."""
    conn = None
    if store is not None:
        conn = Connection.objects.filter(store=store, service=SERVICE, enabled=True).order_by("pk").first()
    if conn is None:
        return hub_bot()
    return Bot(str(conn.credentials().get("bot_token") or ""), conn.base_url or API_URL, conn)


def problems(bot: Bot) -> list[Sentence | str]:
    """What makes the bot unusable, said (core.sentences) so each reader reads it (empty: usable)."""
    out = []
    if not TOKEN.fullmatch(bot.token):
        out.append(Sentence(gettext_noop(
            "the bot token does not look like one from @BotFather (digits, a colon, then letters)")))
    if bot.connection is not None and bot.connection.base_url:
        try:
            outbound.check_base_url(SERVICE, bot.connection.base_url)
        except Exception as exc:  # ConfigurationError: says why (said, so each reader reads it)
            out.append(sentence_of(exc) or str(exc))
    return out


def call(bot: Bot, method: str, params: dict, *, key: str = "", purpose: str = "", store: Store | None = None):
    """One Bot API call, recorded as an Exchange with the token masked; returns `result`."""
    problem = problems(bot)
    if problem:
        raise TerminalError(SERVICE, "settings", listed(problem))
    recorder = ExchangeRecorder(SERVICE, connection=bot.connection, store=store, secrets=[bot.token])
    http = shared_client(SERVICE, bot.base_url.rstrip("/"), timeout=15.0)
    path = f"/bot{bot.token}/{method}"
    body = json.dumps(params, ensure_ascii=False)
    headers = {"Content-Type": "application/json; charset=utf-8", "Accept": "application/json"}
    with recorder.exchange("POST", http.build_url(path), key=key, purpose=purpose, request_body=body,
                           request_headers=headers) as ex:
        resp = http.request("POST", path, content=body.encode("utf-8"), headers=headers)
        ex.finish(resp)
        return _result(resp)


def _result(resp):
    try:
        data = resp.json()
    except ValueError:
        data = None
    if not isinstance(data, dict) or "ok" not in data:
        if resp.status_code in outbox.GATEWAY_CODES or 200 <= resp.status_code < 300:
            err = ServiceError(SERVICE, resp.status_code, unreadable(resp.text))
            err.maybe_sent = True
            raise err
        raise RetryableError(SERVICE, resp.status_code, server_error(resp.status_code, resp.text[:200])
                             if resp.status_code >= 500 else http_status(resp.status_code, resp.text[:200]))
    if data.get("ok") is True:
        return data.get("result")
    code = int(data.get("error_code") or resp.status_code)
    words = str(data.get("description") or f"error {code}")
    if code == 429:
        retry = (data.get("parameters") or {}).get("retry_after")
        raise RetryableError(SERVICE, 429, rate_limited(words), retry_after=parse_retry_after(str(retry or ""), 30.0))
    if code in outbox.GATEWAY_CODES:
        raise ServiceError(SERVICE, code, server_error(code, words))  # doubtful: it may have gone out
    if code >= 500:
        raise RetryableError(SERVICE, code, server_error(code, words))
    raise TerminalError(SERVICE, code, words)


def send(bot: Bot, effect, *, chat_id: str, text: str, key: str, purpose: str = "alert",
         store: Store | None = None) -> str:
    if len(text) > MAX_TEXT:
        text = text[:MAX_TEXT - 1] + "…"
    result = call(bot, "sendMessage", {"chat_id": chat_id, "text": text, "link_preview_options": {"is_disabled": True}},
                  key=key, purpose=purpose, store=store)
    message_id = (result or {}).get("message_id") if isinstance(result, dict) else None
    if message_id is None:
        err = ServiceError(SERVICE, "garbage", Sentence(gettext_noop("no message_id in the answer: {detail}"),
                                                        detail=str(result)[:200]))
        err.maybe_sent = True
        raise err
    return str(message_id)


def deliver(key: str, *, store: Store | None, chat_id: str, text: str, purpose: str = "alert"):
    """Inside a job: the message under `key` through the outbox, once (see the module docstring)."""
    bot = bot_for(store)
    if bot is None:
        raise TerminalError(SERVICE, "not set",
                            Sentence(gettext_noop("no Telegram bot is set for this store or the hub any more")))
    effect = outbox.request(key, kind="message", service=SERVICE, store=store, connection=bot.connection)
    effect = outbox.perform(effect, lambda e: send(bot, e, chat_id=chat_id, text=text, key=key, purpose=purpose,
                                                   store=store))
    if effect.state == SideEffectState.FAILED:
        raise TerminalError(SERVICE, "refused", outbox.refusal(effect))
    return effect


def check(bot: Bot, *, store: Store | None = None) -> str:
    """The bot's @username when its token works (getMe), else ServiceError with Telegram's words."""
    me = call(bot, "getMe", {}, purpose="telegram.test", store=store) or {}
    return f"@{me.get('username', '')}"
