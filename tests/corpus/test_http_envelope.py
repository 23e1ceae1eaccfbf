"""The HTTP envelope of webhooks over a real socket (live server): content types, sizes, broken UTF-8, junk
Content-Length, odd methods and paths. Never a 500; a kept inbound Exchange unless the URL matches no route."""

import json
import os
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from corpus.conftest import sandbox_signature, twilio_signature
from corpus.loader import body_of, params
from testkit import PYTHON, worker_env

from ocbridge.core import gunicorn_worker
from ocbridge.core.choices import Direction, ExchangeOutcome
from ocbridge.core.inbox import queue_stored
from ocbridge.core.models import Exchange, Job

pytestmark = pytest.mark.django_db(transaction=True)


def raw_response(base_url: str, method: str, path: str, headers: list[tuple[str, str]],
                 body: bytes) -> tuple[int, dict[str, str], bytes]:
    """One request written byte for byte (http.client would fix the headers we want wrong): status, headers
    (lower-case names), body."""
    u = urlsplit(base_url)
    head = f"{method} {path} HTTP/1.1\r\nHost: {u.netloc}\r\nConnection: close\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers)
    with socket.create_connection((u.hostname, u.port), timeout=20) as s:
        try:
            s.sendall(head.encode("latin-1", "replace") + b"\r\n" + body)
            s.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):  # answered (413) and closed before the body was all sent
            pass
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    fields = {}
    for line in lines:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = (fields[name.strip().lower()] + ", " if name.strip().lower() in fields else "") + value.strip()
    return int(status_line.split()[1]), fields, rest


def raw_request(base_url: str, method: str, path: str, headers: list[tuple[str, str]], body: bytes) -> tuple[int, bytes]:
    status, _fields, body = raw_response(base_url, method, path, headers, body)
    return status, body


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
        queue_stored()  # what the worker's dispatcher does next: the stored webhook's jobs (core.inbox)
        assert Job.objects.count() == case["jobs"]


# --- chunked bodies (no Content-Length) under gunicorn, as `ocbridge serve --production` runs --------------------
# Django's test server does not undo chunked framing; gunicorn does, and Django then sees a body without length.


def serve_production(workers: int):
    """`ocbridge serve --production` on a free port with `workers` web workers: its URL and its (master) process."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([PYTHON, "-m", "ocbridge", "serve", "--production", "--workers", str(workers), "--bind",
                             f"127.0.0.1:{port}"], env=worker_env(OCBRIDGE_LOG_LEVEL="ERROR"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert proc.poll() is None and time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.1)
    return f"http://127.0.0.1:{port}", proc


@pytest.fixture
def gunicorn_server(hub):
    url, proc = serve_production(1)
    yield url, proc
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture
def gunicorn_url(gunicorn_server):
    return gunicorn_server[0]


@pytest.mark.skipif(not os.path.isdir("/dev/shm"), reason="no /dev/shm on this machine")
def test_the_web_workers_heartbeat_file_is_in_memory(gunicorn_server):
    """A sync worker marks itself alive on a temporary file around every request; on a disk-backed /tmp that call can
    wait on the file system's journal (gunicorn's settings, `worker_tmp_dir`). The file is on /dev/shm."""
    url, proc = gunicorn_server
    raw_request(url, "GET", "/no-such-page/", [], b"")  # the worker has started
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
    assert children, "gunicorn started no worker"
    held = [os.readlink(fd) for fd in Path(f"/proc/{children[0]}/fd").iterdir() if fd.is_symlink()]
    assert any(h.startswith("/dev/shm/wgunicorn-") for h in held), held


def web_workers(proc) -> list[int]:
    return [int(pid) for pid in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()]


def wakeups(pid: int) -> int:
    """How many times the process has gone to sleep and been woken (the kernel's count of voluntary switches)."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("voluntary_ctxt_switches:")[1].split()[0])


@pytest.mark.skipif(not gunicorn_worker.available(), reason="no epoll exclusive mode on this system")
def test_a_connection_wakes_one_idle_web_worker_not_every_one(hub):
    """gunicorn's sync workers wait on the shared socket with select(), which wakes every idle worker for each
    connection; the losers run beside the one serving, on the same cores (issue 23: the order-status tail). Served
    as deployed, with both workers idle at each connection, one worker takes them all and the other sleeps on.
    On gunicorn's own sync worker the other one wakes for every connection (40 here)."""
    url, proc = serve_production(2)
    try:
        deadline = time.monotonic() + 30
        while len(web_workers(proc)) < 2:  # gunicorn forks its workers after the port opens
            assert time.monotonic() < deadline, "gunicorn started fewer than 2 web workers"
            time.sleep(0.1)
        for _ in range(3):
            raw_request(url, "GET", "/no-such-page/", [], b"")  # both have imported the project
        time.sleep(0.5)
        pids = web_workers(proc)
        before = [wakeups(pid) for pid in pids]
        for _ in range(40):
            assert raw_request(url, "GET", "/no-such-page/", [], b"")[0] == 404
            time.sleep(0.02)  # both workers back in their wait before the next connection
        woken = [wakeups(pid) - b for pid, b in zip(pids, before)]
        assert min(woken) <= 8, woken
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_webhooks_skip_the_dashboards_middleware(hub, gunicorn_url):
    """A provider's request has no cookie, session or browser language: served as deployed, a webhook goes through
    only the security and common middleware (core.webhook_handler; 7 % of an order-status call's CPU), a dashboard
    page through all of it. Seen from outside: no CSRF cookie, no Vary on cookie or language, no frame header."""
    body = json.dumps({"event_id": "evt_mw", "type": "call.completed", "data": {"id": "c_mw", "status": "busy"}}).encode()
    headers = [("Content-Type", "application/json"), ("Accept-Language", "tr"), ("Content-Length", str(len(body))),
               ("X-Sandbox-Signature", sandbox_signature(body))]
    status, hook, answer = raw_response(gunicorn_url, "POST", hub.url("sandbox", "call-result"), headers, body)
    assert status == 200, answer[:300]
    assert Exchange.objects.get(direction=Direction.IN).status == 200  # the webhook did its work
    assert hook.get("x-content-type-options") == "nosniff"  # SecurityMiddleware stays
    assert not {"set-cookie", "vary", "x-frame-options", "content-language"} & hook.keys(), hook
    status, page, _ = raw_response(gunicorn_url, "GET", "/login/", [("Accept-Language", "tr")], b"")
    assert status == 200 and page["content-language"] == "tr" and "csrftoken" in page["set-cookie"]
    assert page["x-frame-options"] == "DENY" and "Cookie" in page["vary"]


def chunked(body: bytes, size: int = 65536) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + size]), body[i:i + size])
                    for i in range(0, len(body), size)) + b"0\r\n\r\n"


def test_chunked_body_over_the_limit_is_refused_and_its_start_kept(hub, gunicorn_url):
    body = b'{"event_id": "evt_c1", "pad": "' + b"x" * (10 * 1024 * 1024) + b'"}'  # 10 MB
    headers = [("Content-Type", "application/json"), ("Transfer-Encoding", "chunked"),
               ("X-Sandbox-Signature", sandbox_signature(body))]
    status, answer = raw_request(gunicorn_url, "POST", hub.url("sandbox", "call-result"), headers, chunked(body))
    assert status == 413 and b"too large" in answer
    ex = Exchange.objects.get(direction=Direction.IN)
    assert (ex.status, ex.outcome, ex.level) == (413, ExchangeOutcome.REJECTED, "warning") and "too large" in ex.error
    assert ex.request_body.startswith(body[:1000].decode())
    assert not Job.objects.exists()


def test_chunked_body_under_the_limit_is_read(hub, gunicorn_url):
    body = json.dumps({"event_id": "evt_c2", "type": "call.completed", "data": {"id": "c_c2", "status": "busy"}}).encode()
    headers = [("Content-Type", "application/json"), ("Transfer-Encoding", "chunked"),
               ("X-Sandbox-Signature", sandbox_signature(body))]
    status, answer = raw_request(gunicorn_url, "POST", hub.url("sandbox", "call-result"), headers, chunked(body, 16))
    assert status == 200, answer[:300]
    ex = Exchange.objects.get(direction=Direction.IN)
    assert json.loads(ex.request_body) == json.loads(body)
    queue_stored()
    assert Job.objects.count() == 1
