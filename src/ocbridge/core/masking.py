"""Masking of secrets in URLs, headers, bodies and log records. One place decides what is sensitive."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "********"

# Field and header names whose values are secrets, wherever they appear (lower-case, compared exactly).
SENSITIVE_NAMES = frozenset(
    {
        "authorization", "proxy-authorization", "cookie", "set-cookie", "x-twilio-signature",
        "password", "pass", "passwd", "secret", "api_key", "apikey", "api-key", "key", "token",
        "api_token", "access_token", "auth_token", "authtoken", "client_secret", "signature",
        "usercode", "access_code", "sha_request_phrase", "sha_response_phrase", "merchant_identifier",
        # APS merchant page: the card token and what its page echoes of the card (payments.md A2 "Not signed")
        "token_name", "card_number", "card_security_code", "expiry_date", "card_holder_name",
    }
)
_WEBHOOK_TOKEN = re.compile(r"(/hooks/[^/]+/)([^/?#]+)")


def is_sensitive(name: str) -> bool:
    return name.lower() in SENSITIVE_NAMES


def mask_values(text: str, secrets: Iterable[str]) -> str:
    """Replace every literal occurrence of known secret values (credentials of the connection)."""
    for s in _longest_first(secrets):
        text = text.replace(s, MASK)
    return text


def _longest_first(secrets: Iterable[str]) -> list[str]:
    return sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)


def mask_url(url: str, secrets: Iterable[str] = ()) -> str:
    parts = urlsplit(url)
    pairs = parse_qsl(parts.query, keep_blank_values=True, errors="surrogateescape")  # %FF stays %FF
    query = parts.query  # as sent, unless a field must be masked (re-encoding it costs a webhook more than the rest)
    if any(is_sensitive(k) for k, _v in pairs):
        query = urlencode([(k, MASK if is_sensitive(k) else v) for k, v in pairs], errors="surrogateescape")
    netloc = parts.netloc
    if "@" in netloc:  # user:password@host
        netloc = MASK + "@" + netloc.split("@", 1)[1]
    path = _WEBHOOK_TOKEN.sub(lambda m: m.group(1) + m.group(2)[:4] + "…", parts.path)
    return mask_values(urlunsplit((parts.scheme, netloc, path, query, parts.fragment)), secrets)


def mask_headers(headers: dict | Iterable[tuple[str, str]], secrets: Iterable[str] = ()) -> dict:
    items = headers.items() if isinstance(headers, dict) else headers
    ordered = _longest_first(secrets)  # once, not once a header (as mask_values would)
    out = {}
    for k, v in items:
        if k.lower() in SENSITIVE_NAMES:
            out[k] = MASK
            continue
        v = str(v)
        for s in ordered:
            v = v.replace(s, MASK)
        out[k] = storable_text(v)
    return out


def _mask_obj(obj):
    if isinstance(obj, dict):
        return {k: (MASK if isinstance(k, str) and is_sensitive(k) and v not in (None, "") else _mask_obj(v)) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_mask_obj(v) for v in obj]
    return obj


_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")


def _escape_unstorable(m: re.Match) -> str:
    code = ord(m.group())
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8, carried by surrogateescape
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def storable_text(text: str) -> str:
    """Text every database stores: NUL (PostgreSQL refuses it) as `\\x00`, bytes that were not UTF-8 as `\\xNN`
    (so the original bytes can be read back, unlike U+FFFD), lone surrogates as `\\uXXXX`."""
    return _UNSTORABLE.sub(_escape_unstorable, text)


def body_problem(body: bytes | None) -> str:
    """What `mask_body` had to escape in raw bytes, as a note for the Exchange ("" = nothing)."""
    if not body:
        return ""
    notes = []
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        notes.append("body is not valid UTF-8 (undecodable bytes stored as \\xNN)")
    if b"\x00" in body:
        notes.append("body contains NUL bytes (stored as \\x00)")
    return "; ".join(notes)


def mask_body(body: str | bytes | None, secrets: Iterable[str] = (), limit: int | None = None) -> str:
    """Mask a JSON or form body by field name, then any literal secret; cap its size. The result is storable
    text: bytes that are not UTF-8 and NUL are backslash-escaped (`storable_text`), never replaced."""
    if body is None:
        return ""
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="surrogateescape")  # bad bytes ride along until storable_text
    text = body
    stripped = body.lstrip()
    if stripped[:1] in "{[":
        try:
            text = json.dumps(_mask_obj(json.loads(body)), ensure_ascii=False)
        except (ValueError, RecursionError):  # not JSON, or nested too deep to parse: kept as sent
            pass
    elif "=" in body and "\n" not in body.strip() and " " not in body.strip():
        pairs = parse_qsl(body, keep_blank_values=True, errors="surrogateescape")
        if pairs:
            text = urlencode([(k, MASK if is_sensitive(k) else v) for k, v in pairs], errors="surrogateescape")
    text = storable_text(_WEBHOOK_TOKEN.sub(lambda m: m.group(1) + m.group(2)[:4] + "…", mask_values(text, secrets)))
    if limit and len(text) > limit:
        text = text[:limit] + f"… [{len(text) - limit} more characters cut]"
    return text


class MaskingFilter(logging.Filter):
    """Log filter: masks name=value / "name": "value" pairs of sensitive names in the formatted message."""

    _pair = re.compile(
        r"(?i)\b(" + "|".join(re.escape(n) for n in sorted(SENSITIVE_NAMES, key=len, reverse=True)) + r")(\"?\s*[=:]\s*\"?)([^\s&\",}]+)"
    )

    def _mask(self, text: str) -> str:
        return self._pair.sub(lambda m: m.group(1) + m.group(2) + MASK, text)

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        masked = self._mask(msg)
        if masked != msg:
            record.msg, record.args = masked, None
        if record.exc_info:  # the traceback is formatted later by the handler: format and mask it now
            record.exc_text = self._mask(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = self._mask(record.exc_text)
        return True
