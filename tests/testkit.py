"""Helpers shared by tests across packages (import as `from testkit import …`)."""

import os
import sys
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def worker_env(**extra) -> dict:
    """Environment for a worker/server subprocess that shares this test's database and clock."""
    from django.conf import settings
    from django.db import connection

    env = dict(os.environ)
    env["OCBRIDGE_DATA_DIR"] = str(settings.DATA_DIR)
    env["OCBRIDGE_TEST_CLOCK"] = "1"
    env["OCBRIDGE_SECRET_KEY"] = settings.SECRET_KEY
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        env["OCBRIDGE_DATABASE_URL"] = f"sqlite:///{db['NAME']}"
    else:
        env["OCBRIDGE_DATABASE_URL"] = f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    env.update(extra)
    return env


PYTHON = sys.executable

# How long a test waits for real worker processes to bring something about. A worker's start (Django, huey, every
# integration imported) takes ~4 s on an idle machine, 15-20 s on a loaded 2-core CI box and over a minute at load
# 25: this is only a hang guard, a wait ends as soon as its condition holds (or the workers have died).
WORKER_DEADLINE = 180.0


def wait_until(pred, what: str, *, died=lambda: "", log=lambda: "", deadline: float = WORKER_DEADLINE):
    """Poll `pred` until it returns something true (returned). Fails with `what` and `log()` when `died()` says why
    the workers that should bring it about are gone, or after `deadline` seconds."""
    import time

    end = time.monotonic() + deadline
    while not (value := pred()):
        gone = died()
        if gone:
            raise AssertionError(f"{what}: {gone}:\n{log()}")
        if time.monotonic() > end:
            raise AssertionError(f"{what}: not within {deadline:.0f} s:\n{log()}")
        time.sleep(0.1)
    return value


class WorkerProcess:
    """A real `ocbridge worker` subprocess sharing this test's database and clock (context manager: stopped on exit).

    `wait_for(pred)` polls a condition until it holds (`wait_until`): it ends early, with the worker's stderr, as
    soon as the worker has died."""

    def __init__(self, log_path: Path, *, tick: float = 0.2, **env):
        import subprocess

        self.log_path = Path(log_path)
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([PYTHON, "-m", "ocbridge", "worker", "--tick", str(tick)], env=worker_env(**env),
                                     stdout=subprocess.DEVNULL, stderr=self._log)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def stderr_tail(self, chars: int = 2000) -> str:
        if not self._log.closed:  # also after the worker was stopped (a failure message read after the block)
            self._log.flush()
        return self.log_path.read_bytes()[-chars:].decode("utf-8", "replace")

    def wait_for(self, pred, what: str):
        return wait_until(pred, what, log=self.stderr_tail, died=lambda: (
            "" if self.proc.poll() is None else f"the worker exited ({self.proc.returncode})"))

    def kill(self) -> None:
        """SIGKILL: the worker dies mid-whatever, as in a crash or an OOM kill."""
        self.proc.kill()
        self.proc.wait()

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not exited within 30 s (a loaded machine shuts down slowly)."""
        import subprocess

        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


class LoopbackReceiver:
    """Our side of the wire on a free 127.0.0.1 port (daemon thread); a subclass's `answer` records and replies."""

    def __init__(self):
        self.hits: list[dict] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _any(self):
                length = int(self.headers.get("Content-Length") or 0)
                status, text, ctype = receiver.answer(self, self.rfile.read(length) if length else b"")
                data = text.encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def answer(self, request: BaseHTTPRequestHandler, body: bytes) -> tuple[int, str, str]:
        """Record one request; return the reply as (status, body text, content type)."""
        raise NotImplementedError

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def cod_integration(store, connection, *, settings=None, channels=("call", "call", "sms"), delays=(0, 30, 90),
                    window=15, **fields):
    """A cod_confirm Integration whose channel plan goes through one connection (call, call, SMS by default)."""
    from ocbridge.core.models import Integration
    from ocbridge.integrations.cod_confirm import plan

    integration = Integration.objects.create(store=store, kind="cod_confirm", settings=settings or {}, **fields)
    plan.replace(integration, plan.default_steps(connection, tuple(channels), tuple(delays), window))
    return integration


def pytest_on_postgres(postgres, tmp_path, database: str, files: list) -> None:
    """Run test files in a nested pytest session with a PostgreSQL hub (pytest-django builds one test database per
    session); fails with the nested output."""
    import os
    import subprocess

    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(OCBRIDGE_DATABASE_URL=postgres.create_database(database), OCBRIDGE_DATA_DIR=str(tmp_path / "data"))
    done = subprocess.run([PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", *map(str, files)], env=env,
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-8000:] + done.stderr[-3000:]
    assert "passed" in done.stdout.splitlines()[-1] and "failed" not in done.stdout.splitlines()[-1]


class HubWrites:
    """The hub-database statements that write (INSERT/UPDATE/DELETE/REPLACE) run inside the block:
    `with HubWrites() as w: …` then `w.sql` (a list of them)."""

    import re as _re

    WRITE = _re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE)\b", _re.I)

    def __enter__(self):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        self._ctx = CaptureQueriesContext(connection)
        self._ctx.__enter__()
        return self

    def __exit__(self, *exc):
        self._ctx.__exit__(*exc)
        self.sql = [q["sql"] for q in self._ctx.captured_queries if self.WRITE.match(q["sql"])]
        return False


def settle(sim, rounds: int = 8, *, each_round=None) -> None:
    """Run due jobs, let the simulator's webhooks arrive, run again — until quiet (each_round: e.g. the polls)."""
    import time

    from ocbridge.core.jobs import run_until_idle

    for _ in range(rounds):
        if each_round is not None:
            each_round()
        ran = run_until_idle()
        sim.webhooks.flush()
        idle = sim.wait_idle(5)
        time.sleep(0.05)
        if not ran and idle and not run_until_idle():
            break


def without_statistics() -> None:
    """The hub's SQLite database as before its first upkeep (core.upkeep): sqlite_stat1 emptied and the planner told
    (`ANALYZE sqlite_schema` reloads what it plans with). A worker started by an earlier test may have analyzed the
    test database; a test that asserts a plan asserts it for a hub without statistics."""
    from django.db import connection

    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cur:
        cur.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'")
        if cur.fetchone():
            cur.execute("DELETE FROM sqlite_stat1")
            cur.execute("ANALYZE sqlite_schema")


LANGS = ("en", "tr", "ru")  # the readers a "reads in each reader's language" test asks


def reader(lang: str):
    """A test client logged in as a superuser (one per language) whose pages come in `lang`."""
    from django.contrib.auth.models import User
    from django.test import Client

    client = Client()
    client.force_login(User.objects.filter(username=f"admin-{lang}").first()
                       or User.objects.create_superuser(f"admin-{lang}", password="pw"))
    client.cookies["django_language"] = lang
    return client


def page_read(url: str, lang: str, part: str | None = None, *, client=None) -> str:
    """The page at `url` as a reader in `lang` sees it (through `client`, else a new `reader`), HTML entities undone;
    with `part` (a regular expression, DOTALL) only its first match."""
    import html
    import re

    page = html.unescape((client or reader(lang)).get(url).content.decode())
    return re.search(part, page, re.S).group(0) if part else page


def said_in(lang: str, fn) -> str:
    """What `fn()` says (a Sentence, a lazy text) as a reader in `lang` reads it."""
    from django.utils import translation

    with translation.override(lang):
        return str(fn())


def assert_reads_as(said: dict, lang: str, text: str) -> None:
    """A reader in `lang` finds `said[lang]` in `text`, and no other reader's `said`."""
    assert said[lang] in text, (lang, text)
    for other in set(LANGS) - {lang}:
        assert said[other] not in text, (lang, other, text)


def assert_reads(said: dict, shown, *, alone: bool = False) -> None:
    """Each reader finds `said[lang]` in `shown(lang)`; with `alone`, no other reader's text either."""
    for lang in LANGS:
        text = shown(lang)
        if alone:
            assert_reads_as(said, lang, text)
        else:
            assert said[lang] in text, (lang, text)


def assert_page_reads(url: str, said: dict, part: str | None = None, *, alone: bool = False) -> None:
    """`assert_reads` on the page at `url` (or its first match of `part`)."""
    assert_reads(said, lambda lang: page_read(url, lang, part), alone=alone)


def connection_test_shown(conn, lang: str) -> tuple[str, str]:
    """Click the connection's "Test" (dashboard:connection-test) as a reader in `lang`: the message shown after it,
    and the connection's row on the store page ("" when the page has none)."""
    import html
    import re

    from django.urls import reverse

    page = html.unescape(reader(lang).post(reverse("dashboard:connection-test", args=[conn.pk]), follow=True)
                         .content.decode())
    message = re.search(r'<ul class="messages".*?</ul>', page, re.S).group(0)
    row = re.search(r'<tr>\s*<td>' + re.escape(conn.get_service_display()) + r'</td>.*?</tr>', page, re.S)
    return message, row.group(0) if row else ""


SIM_TOKEN = "token-0123456789abcdef"


def _simulator(service: str):
    """(simulator, secret, options) for a connection of `service` that works; options None: WhatsApp's, which
    name the simulator's own number and account ids."""
    if service == "verimor":
        from ocbridge.simulators.verimor import VerimorSimulator

        return VerimorSimulator(api_key="K1", sms_username="908501234567", sms_password="sms-pass-1234", speed=200), \
            {"key": "K1", "username": "908501234567", "password": "sms-pass-1234"}, {}
    if service == "netgsm":
        from ocbridge.simulators.netgsm import NetgsmSimulator

        return NetgsmSimulator(usercode="8503001122", password="netgsm-pass-5678", msgheaders=("SHOP",), speed=200), \
            {"usercode": "8503001122", "password": "netgsm-pass-5678"}, {"msgheader": "SHOP"}
    if service == "twilio":
        from ocbridge.simulators.twilio import TwilioSimulator

        sid = "AC" + "1" * 32
        return TwilioSimulator(account_sid=sid, auth_token=SIM_TOKEN, numbers=("+902129630131",), speed=200), \
            {"account_sid": sid, "auth_token": SIM_TOKEN}, {"from_number": "+902129630131"}
    if service == "whatsapp":
        from ocbridge.simulators.whatsapp import WhatsAppSimulator

        return WhatsAppSimulator(token=SIM_TOKEN, app_secret="app-secret-1", speed=200, review_delay=10 ** 7), \
            {"access_token": SIM_TOKEN, "app_secret": "app-secret-1"}, None
    if service == "onebox":
        from ocbridge.simulators.onebox import OneBoxSimulator

        return OneBoxSimulator(login="api@box.example", password="box-pw"), \
            {"login": "api@box.example", "password": "box-pw"}, {}
    if service == "despatch":
        from ocbridge.simulators.despatch import DespatchSimulator

        return DespatchSimulator(email="api@shop.example", password="dc-pw"), \
            {"email": "api@shop.example", "password": "dc-pw"}, {}
    if service == "aps":
        from paykit import CREDS

        from ocbridge.simulators.aps import ApsSimulator

        return ApsSimulator(speed=1000), dict(CREDS), {"sha_type": "sha256"}
    if service == "latitudepay":
        from ocbridge.simulators.latitudepay import LatitudeSimulator

        return LatitudeSimulator(speed=1000), {"api_key": "lp-key", "api_secret": "lp-secret"}, {"currency": "AUD"}
    from ocbridge.simulators.sandbox import SandboxSimulator

    return SandboxSimulator(token=SIM_TOKEN, speed=200), {"token": SIM_TOKEN, "webhook_secret": "whsec-abcdef"}, {}


@contextmanager
def simulated_connection(service: str, store, *, secret: dict | None = None, options: dict | None = None):
    """A started loopback simulator of `service` and a Connection of `store` against it that works — unless `secret`
    (merged over the working one) or `options` (instead of them) say otherwise. Yields (simulator, connection)."""
    from ocbridge.core.models import Connection

    sim, working_secret, working_options = _simulator(service)
    with sim:
        if working_options is None:
            working_options = {"phone_number_id": sim.phone_number_id, "waba_id": sim.waba_id}
        yield sim, Connection.objects.create(store=store, service=service, base_url=sim.base_url,
                                             secret={**working_secret, **(secret or {})},
                                             options=working_options if options is None else options)


def failing_read_shown(store, lang: str) -> tuple[str, str]:
    """A failing routine read (core.polls) of `store` as a reader in `lang` sees it: the store page's first
    failing-read row and the overview's attention line (core.attention.polls_failing; one failing read expected)."""
    from django.urls import reverse
    from django.utils import translation

    from ocbridge.core.attention import polls_failing
    from ocbridge.core.models import Store

    row = page_read(reverse("dashboard:store", args=[store.pk]), lang, r'<tr id="reads-failing">.*?</tr>')
    with translation.override(lang):
        [line] = polls_failing(Store.objects.all())
    return row, line.text


def job_shown(job, lang: str) -> tuple[str, str]:
    """A job's reason (error or wait) as a reader in `lang` sees it: its row on the jobs list and the "Last error" on
    the job's page."""
    import re

    from django.urls import reverse

    row = page_read(reverse("dashboard:jobs"), lang,
                    r'<tr>(?:(?!</tr>).)*?' + re.escape(reverse("dashboard:job", args=[job.pk])) + r'.*?</tr>')
    return row, page_read(reverse("dashboard:job", args=[job.pk]), lang, r'<p class="err">.*?</p>')


def assert_job_reads(job, said: dict, *, stored: str = "") -> None:
    """The job's row keeps the English text (`stored`, else `said["en"]`, for logs) and both pages read it in each
    language."""
    job.refresh_from_db()
    assert (stored or said["en"]) in job.last_error, job.last_error
    for lang in LANGS:
        row, error = job_shown(job, lang)
        assert said[lang] in row, (lang, row)
        assert_reads_as(said, lang, error)
