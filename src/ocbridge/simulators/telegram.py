"""Telegram Bot API simulator (the methods the hub uses for alerts), written from the Bot API document
https://core.telegram.org/bots/api (sections named below), not from our client.

"Making requests": every method is `https://api.telegram.org/bot<token>/METHOD_NAME`, GET or POST, parameters in
the query string, application/x-www-form-urlencoded or application/json; method names are case-insensitive. The
answer is a JSON object with a Boolean `ok`, an optional `description`; on success the value in `result`, on
failure an Integer `error_code` and, for some errors, `parameters` (ResponseParameters: `retry_after` seconds
for flood control, `migrate_to_chat_id`).
Methods:
  getMe          ("getMe") → User {id, is_bot: true, first_name, username}
  sendMessage    ("sendMessage") chat_id (Integer or String), text 1-4096 characters after entities parsing,
                 optional parse_mode, disable_notification, link_preview_options → the sent Message
                 {message_id, from, chat {id, type, …}, date, text}
Errors as the Bot API answers them: an unknown token 401 "Unauthorized"; no such chat 400 "Bad Request: chat not
found"; empty text 400 "Bad Request: message text is empty"; longer than 4096 400 "Bad Request: message is too
long"; a user who blocked the bot 403 "Forbidden: bot was blocked by the user"; flood control 429 "Too Many
Requests: retry after N" with parameters.retry_after (the FAQ's limits: about one message a second per chat).
A chat exists once "the user started the bot" (`add_chat`); `block_chat` plays the user blocking it.
"""

from __future__ import annotations

import json
import threading
import time

from .base import HttpError, Request, Response, Simulator

MAX_TEXT = 4096


def _error(code: int, description: str, parameters: dict | None = None) -> HttpError:
    body = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return HttpError(Response.json(body, code))


class TelegramSimulator(Simulator):
    name = "telegram"
    routes = [
        ("GET", r"/bot(?P<token>[^/]+)/(?P<method>[A-Za-z]+)", "call"),
        ("POST", r"/bot(?P<token>[^/]+)/(?P<method>[A-Za-z]+)", "call"),
    ]
    control_methods = Simulator.control_methods + ("add_chat", "block_chat", "messages", "set_token")

    def __init__(self, *, token: str = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11", bot_username: str = "ocbridge_bot",
                 **kwargs):
        super().__init__(**kwargs)
        self.token, self.bot_username = token, bot_username
        self._state_lock = threading.RLock()
        self.reset_state()

    def reset_state(self) -> None:
        with self._state_lock:
            self._chats: dict[str, dict] = {}
            self._messages: list[dict] = []
            self._next_id = 1

    # control ---------------------------------------------------------------------------------------
    def set_token(self, token: str) -> None:
        self.token = token

    def add_chat(self, chat_id, first_name: str = "Owner") -> None:
        """The user pressed Start in the bot: the bot may write to this private chat."""
        with self._state_lock:
            self._chats[str(chat_id)] = {"id": int(chat_id), "type": "private", "first_name": first_name,
                                         "blocked": False}

    def block_chat(self, chat_id) -> None:
        with self._state_lock:
            self._chats[str(chat_id)]["blocked"] = True

    def messages(self, chat_id=None) -> list[dict]:
        with self._state_lock:
            return [dict(m) for m in self._messages if chat_id is None or str(m["chat"]["id"]) == str(chat_id)]

    # protocol --------------------------------------------------------------------------------------
    def account_of(self, req: Request) -> str | None:
        return req.path.split("/")[1] if req.path.startswith("/bot") else None

    def rate_limited(self, req: Request, retry_after: int) -> Response:
        return Response.json({"ok": False, "error_code": 429, "description": f"Too Many Requests: retry after "
                              f"{retry_after}", "parameters": {"retry_after": retry_after}}, 429)

    def server_error(self, req: Request, status: int) -> Response:
        """A server fault in the Bot API's own envelope (`ok` false, `error_code`, `description`: "Making requests");
        a proxy's non-JSON answer is the "garbage" fault."""
        words = {500: "Internal Server Error", 502: "Bad Gateway", 504: "Gateway Timeout"}.get(status)
        return Response.json({"ok": False, "error_code": status, "description": words or "Service Unavailable"}, status)

    def not_found(self, req: Request) -> Response:
        return Response.json({"ok": False, "error_code": 404, "description": "Not Found"}, 404)

    def empty(self, req: Request) -> Response:
        return Response.json({"ok": True, "result": {}})

    def _params(self, req: Request) -> dict:
        params = {k: v[-1] for k, v in req.query.items()}
        ctype = (req.header("Content-Type") or "").split(";")[0].strip().lower()
        if req.method == "POST" and req.body:
            if ctype == "application/json":
                try:
                    body = json.loads(req.body)
                except ValueError:
                    raise _error(400, "Bad Request: can't parse JSON object") from None
                params.update(body if isinstance(body, dict) else {})
            elif ctype == "application/x-www-form-urlencoded":
                params.update(req.form())
        return params

    def call(self, req: Request, token: str, method: str) -> Response:
        if token != self.token:
            raise _error(401, "Unauthorized")
        params = self._params(req)
        name = method.lower()  # "All methods in the Bot API are case-insensitive."
        if name == "getme":
            return Response.json({"ok": True, "result": self._me()})
        if name == "sendmessage":
            return Response.json({"ok": True, "result": self._send(params)})
        return self.not_found(req)

    def _me(self) -> dict:
        return {"id": int(self.token.split(":")[0]), "is_bot": True, "first_name": "ocbridge",
                "username": self.bot_username, "can_join_groups": True, "can_read_all_group_messages": False,
                "supports_inline_queries": False}

    def _send(self, params: dict) -> dict:
        chat_id = str(params.get("chat_id", "")).strip()
        if not chat_id:
            raise _error(400, "Bad Request: chat_id is empty")
        text = params.get("text")
        if text is None or not str(text).strip():
            raise _error(400, "Bad Request: message text is empty")
        if len(str(text)) > MAX_TEXT:
            raise _error(400, "Bad Request: message is too long")
        with self._state_lock:
            chat = self._chats.get(chat_id)
            if chat is None:
                raise _error(400, "Bad Request: chat not found")
            if chat["blocked"]:
                raise _error(403, "Forbidden: bot was blocked by the user")
            message = {"message_id": self._next_id, "from": self._me(), "date": int(time.time()),
                       "chat": {k: v for k, v in chat.items() if k != "blocked"}, "text": str(text)}
            self._next_id += 1
            self._messages.append(message)
        return message
