"""The HTTP envelope of webhooks over a real socket (live server): content types, sizes, broken UTF-8, junk
Content-Length, odd methods and paths. Never a 500; a kept inbound Exchange unless the URL matches no route."""

import socket
from urllib.parse import parse_qsl, urlsplit

import pytest
from corpus.conftest import sandbox_signature, twilio_signature
from corpus.loader import body_of, params

from ocbridge.core.choices import Direction, ExchangeOutcome
from ocbridge.core.models import Exchange, Job

pytestmark = pytest.mark.django_db(transaction=True)


def raw_request(base_url: str, method: str, path: str, headers: list[tuple[str, str]], body: bytes) -> tuple[int, bytes]:
    """One request written byte for byte (http.client would fix the headers we want wrong)."""
    u = urlsplit(base_url)
    head = f"{method} {path} HTTP/1.1\r\nHost: {u.netloc}\r\nConnection: close\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers)
    with socket.create_connection((u.hostname, u.port), timeout=20) as s:
        s.sendall(head.encode("latin-1", "replace") + b"\r\n" + body)
        s.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    status_line, _, rest = data.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


@pytest.mark.parametrize("case", params("http_envelope"))
def test_http_envelope(hub, live_server, settings, case):
    settings.PUBLIC_URL = live_server.url
    body = body_of(case)
    path = case.get("path") or hub.url(case["service"], case["hook"])
    method = case.get("method", "POST")
    headers = []
    if case.get("content_type"):
        headers.append(("Content-Type", case["content_type"]))
    headers.append(("Content-Length", case.get("content_length", str(len(body)))))
    if case.get("sign", True) and case.get("service") == "sandbox":
        headers.append(("X-Sandbox-Signature", sandbox_signature(body)))
    if case.get("sign", True) and case.get("service") == "twilio" and "form" in (case.get("content_type") or ""):
        charset = case["content_type"].partition("charset=")[2] or "utf-8"
        fields = dict(parse_qsl(body.decode("latin-1"), encoding=charset, errors="replace"))
        headers.append(("X-Twilio-Signature", twilio_signature(live_server.url + path, fields)))
    status, answer = raw_request(live_server.url, method, path, headers, body)
    assert status != 500
    assert status == case["status"], answer[:300]
    text = answer.decode("utf-8", "replace")
    if case.get("message"):
        assert case["message"] in text
    stored = Exchange.objects.filter(direction=Direction.IN)
    if not case.get("stored", True):
        assert not stored.exists()
        return
    ex = stored.get()
    assert ex.status == status
    if status == 413:  # refused unread, but the start of the body is kept
        assert ex.request_body.startswith(body[:1000].decode("utf-8", "replace").strip()) and "too large" in ex.error
    if status >= 400:
        assert (ex.outcome, ex.level) == (ExchangeOutcome.REJECTED, "warning")
        assert not Job.objects.exists()
    elif "jobs" in case:
        assert Job.objects.count() == case["jobs"]
