"""Django settings. Process-level settings come from the environment only (DESIGN.md)."""

import ipaddress
import os
import secrets
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(os.environ.get("OCBRIDGE_DATA_DIR", "./var")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """OCBRIDGE_SECRET_KEY, else one generated on first run and kept in the data dir."""
    if os.environ.get("OCBRIDGE_SECRET_KEY"):
        return os.environ["OCBRIDGE_SECRET_KEY"]
    path = DATA_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = os.environ.get("OCBRIDGE_DEBUG", "") == "1"
ALLOWED_HOSTS = [h for h in os.environ.get("OCBRIDGE_ALLOWED_HOSTS", "*").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("OCBRIDGE_CSRF_TRUSTED_ORIGINS", "").split(",") if o]
# The public base URL providers use to reach our webhooks (e.g. https://hub.example.com).
PUBLIC_URL = os.environ.get("OCBRIDGE_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")
# Proxies in front of the hub (nginx, a CDN): their addresses or networks, comma-separated, and/or how many of them
# stand in front (hops). X-Forwarded-For is read only from such a peer; the client is the first address from the
# right that is not a trusted proxy (core.exchanges.client_ip). Neither set: the header is ignored.
TRUSTED_PROXIES = [str(ipaddress.ip_network(n.strip(), strict=False))  # a typo stops the start, with its value
                   for n in os.environ.get("OCBRIDGE_TRUSTED_PROXIES", "").split(",") if n.strip()]
TRUSTED_PROXY_HOPS = int(os.environ.get("OCBRIDGE_TRUSTED_PROXY_HOPS", "0") or 0)
# "Send a test to my phone": calls and SMS on the shop's account, to any number; so many an hour per user and store.
# The default; a store's owner may set another number up to TEST_SENDS_MAX_PER_HOUR.
TEST_SENDS_PER_HOUR = int(os.environ.get("OCBRIDGE_TEST_SENDS_PER_HOUR", "5") or 5)
TEST_SENDS_MAX_PER_HOUR = max(TEST_SENDS_PER_HOUR, int(os.environ.get("OCBRIDGE_TEST_SENDS_MAX_PER_HOUR", "20") or 20))
TEST_CLOCK = os.environ.get("OCBRIDGE_TEST_CLOCK", "") == "1"
# Hosts (host or host:port) a provider connection may point at besides the provider's own pattern: the loopback
# simulators of tests, benchmarks and the demo. Empty in production.
SIMULATOR_HOSTS = [h for h in os.environ.get("OCBRIDGE_SIMULATOR_HOSTS", "").split(",") if h]
# Requests a second per service for connections without an `rps` option of their own, instead of the client's
# documented pace, e.g. "onebox=4,despatch=8" (core.ratelimit.pace). Empty in production; the test suite sets it for
# the loopback simulators of the providers that publish no limit.
PROVIDER_RPS = {name.strip(): float(rps) for name, _, rps in (
    item.partition("=") for item in os.environ.get("OCBRIDGE_PROVIDER_RPS", "").split(",")) if name.strip() and rps}
# Seconds the Ozon client waits for an answer (services.ozon). The test of the timeout sets it short.
OZON_TIMEOUT = float(os.environ.get("OCBRIDGE_OZON_TIMEOUT", "30") or 30)
# Hub-wide mail (core.mail): the server alerts and test mails go through unless a store has its own SMTP
# connection. No OCBRIDGE_EMAIL_HOST: the hub sends no mail (the dashboard says so).
EMAIL_HOST = os.environ.get("OCBRIDGE_EMAIL_HOST", "")
EMAIL_PORT = int(os.environ.get("OCBRIDGE_EMAIL_PORT", "587"))
EMAIL_HOST_USER = os.environ.get("OCBRIDGE_EMAIL_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("OCBRIDGE_EMAIL_PASSWORD", "")
EMAIL_USE_SSL = os.environ.get("OCBRIDGE_EMAIL_SECURITY", "starttls") == "ssl"
EMAIL_USE_TLS = os.environ.get("OCBRIDGE_EMAIL_SECURITY", "starttls") == "starttls"
DEFAULT_FROM_EMAIL = os.environ.get("OCBRIDGE_EMAIL_FROM", "")
# Owner alerts by Telegram (core.telegram): the hub-wide bot; a store may have its own as a "Telegram" connection.
TELEGRAM_BOT_TOKEN = os.environ.get("OCBRIDGE_TELEGRAM_BOT_TOKEN", "")
TELEGRAM_API_URL = os.environ.get("OCBRIDGE_TELEGRAM_API_URL", "https://api.telegram.org")
# How often live dashboard regions re-read the page (overview, confirmations, test outcomes)
LIVE_REFRESH_MS = int(os.environ.get("OCBRIDGE_LIVE_REFRESH_MS", "10000"))

INSTALLED_APPS = [
    "ocbridge.core.admin_site.HubAdminConfig",  # django.contrib.admin, superusers only
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "huey.contrib.djhuey",
    "ocbridge.core",
    "ocbridge.opencart",
    "ocbridge.integrations.cod_confirm",
    "ocbridge.integrations.ozon",
    "ocbridge.integrations.despatch",
    "ocbridge.integrations.payments",
    "ocbridge.integrations.onebox",
    "ocbridge.integrations.order_lookup",
    "ocbridge.dashboard",
    "ocbridge.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "ocbridge.dashboard.two_factor.TwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "ocbridge.urls"
WSGI_APPLICATION = "ocbridge.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ]
        },
    }
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("OCBRIDGE_DATABASE_URL", f"sqlite:///{DATA_DIR / 'ocbridge.sqlite3'}"),
        # Kept open between requests: opening a connection costs more than most of our queries.
        conn_max_age=int(os.environ.get("OCBRIDGE_DB_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
# SQLite's WAL checkpoint (copying the log back into the database file) is the worker's job, once a second
# (core.wal): a connection checkpoints by itself only once the log holds this many pages (4 KiB each) — SQLite's
# default, 1,000 pages, made every ~45th order-status call run one. Without a worker, or under writes so steady that
# the log never finds a moment to start over, the log stops there (a request then checkpoints, once per this many
# pages); after a spike its file is cut back to SQLITE_WAL_KEEP_BYTES when it restarts.
SQLITE_WAL_PAGES = int(os.environ.get("OCBRIDGE_SQLITE_WAL_PAGES", "10000") or 10000)
SQLITE_WAL_KEEP_BYTES = 64 * 1024 * 1024
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL + NORMAL: readers never block the writer; IMMEDIATE avoids lock upgrades mid-transaction.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000; "
                        f"PRAGMA wal_autocheckpoint={SQLITE_WAL_PAGES}; "
                        f"PRAGMA journal_size_limit={SQLITE_WAL_KEEP_BYTES};",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test_ocbridge.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("OCBRIDGE_REDIS_URL", "")
if REDIS_URL:
    HUEY = {"huey_class": "ocbridge.core.queue.RedisQueueHuey",  # RedisHuey, timeouts set (core/queue.py)
            "name": "ocbridge", "url": REDIS_URL, "immediate": False}
else:
    HUEY = {
        "huey_class": "ocbridge.core.queue.QueueHuey",  # SqliteHuey, synchronous=NORMAL (core/queue.py)
        "name": "ocbridge",
        "filename": str(DATA_DIR / "huey.sqlite3"),
        "immediate": False,
    }
# An idle worker thread looks for work at least every OCBRIDGE_WORKER_MAX_DELAY seconds (default 1; huey's own
# default backs off to 10 s): a pushed order's call goes out within about a second. On one machine (SqliteHuey) each
# look is a short transaction on huey's own queue file, never the hub's database; with Redis the threads block on
# the queue instead (huey's blocking reads), so this only bounds their wait. Measured by bench/idle_worker.py.
HUEY["consumer"] = {"workers": int(os.environ.get("OCBRIDGE_WORKERS", "4")), "worker_type": "thread",
                    "max_delay": float(os.environ.get("OCBRIDGE_WORKER_MAX_DELAY", "1.0"))}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "dashboard:login"
LOGIN_REDIRECT_URL = "dashboard:home"
LOGOUT_REDIRECT_URL = "dashboard:login"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("tr", "Türkçe"), ("ru", "Русский")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = "UTC"

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"

SESSION_COOKIE_HTTPONLY = True
# A dashboard login lasts a working day, then asks again (OCBRIDGE_SESSION_HOURS).
SESSION_COOKIE_AGE = int(float(os.environ.get("OCBRIDGE_SESSION_HOURS", "12")) * 3600)
PASSWORD_RESET_TIMEOUT = 3 * 24 * 3600  # the owner's one-time set-password links
# Failed logins: this many per user name, or 4× as many per address, in LOGIN_FAIL_WINDOW seconds lock the login.
# It is also the most a store's owner may allow their users (Store.login_fail_limit; a user of several stores
# gets the lowest).
LOGIN_FAIL_LIMIT = int(os.environ.get("OCBRIDGE_LOGIN_FAIL_LIMIT", "5"))
LOGIN_FAIL_WINDOW = 15 * 60
CSRF_COOKIE_HTTPONLY = False
# Served over https (the public URL says so): cookies only over https, and trust the proxy's scheme header.
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = PUBLIC_URL.startswith("https://")
if PUBLIC_URL.startswith("https://"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Fernet keys for secrets at rest: OCBRIDGE_FERNET_KEYS (comma-separated, newest first) or a file in DATA_DIR.
FERNET_KEYS_ENV = os.environ.get("OCBRIDGE_FERNET_KEYS", "")
FERNET_KEYS_FILE = DATA_DIR / "fernet.keys"

# Size cap for stored request/response bodies in the exchange log.
EXCHANGE_BODY_LIMIT = 16 * 1024

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"mask": {"()": "ocbridge.core.masking.MaskingFilter"},
                "queue_read_errors": {"()": "ocbridge.core.outage.QueueReadErrors"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["queue_read_errors", "mask"]}},
    "root": {"handlers": ["console"], "level": os.environ.get("OCBRIDGE_LOG_LEVEL", "WARNING")},
}

