"""`ocbridge check --deploy`: settings that are unsafe in production, in plain words."""

from __future__ import annotations

import os

from django.conf import settings
from django.core import checks


def _allowlists_in_use() -> bool:
    from django.db import DatabaseError

    from ocbridge.core.models import Connection

    try:
        return Connection.objects.exclude(ip_allowlist="").exists()
    except DatabaseError:  # not migrated yet
        return False


@checks.register(checks.Tags.security, deploy=True)
def ocbridge_deploy_checks(app_configs=None, **kwargs):
    found = []
    if not settings.PUBLIC_URL.startswith("https://"):
        found.append(checks.Warning("OCBRIDGE_PUBLIC_URL is not https: webhook tokens would travel in clear text.",
                                    id="ocbridge.W001"))
    if "*" in settings.ALLOWED_HOSTS:
        found.append(checks.Warning("OCBRIDGE_ALLOWED_HOSTS allows any host name; set it to your hub's domain.",
                                    id="ocbridge.W002"))
    if not settings.FERNET_KEYS_ENV and settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        db = str(settings.DATABASES["default"]["NAME"])
        if os.path.dirname(os.path.abspath(db)) == os.path.abspath(settings.DATA_DIR):
            found.append(checks.Warning(
                "The encryption key file sits beside the database: a copy of the data directory holds both. "
                "Set OCBRIDGE_FERNET_KEYS from a secret store, or back up the key separately.", id="ocbridge.W003"))
    if settings.REDIS_URL == "" and int(os.environ.get("OCBRIDGE_WORKER_PROCESSES", "1")) > 1:
        found.append(checks.Error("Several worker processes need RedisHuey: set OCBRIDGE_REDIS_URL.", id="ocbridge.E001"))
    if settings.TEST_CLOCK:
        found.append(checks.Error("OCBRIDGE_TEST_CLOCK is on: time can be moved by a file in the data dir.",
                                  id="ocbridge.E002"))
    if not (settings.TRUSTED_PROXIES or settings.TRUSTED_PROXY_HOPS) and _allowlists_in_use():
        found.append(checks.Warning(
            "A connection has a webhook IP allowlist but no proxy is named: behind nginx or a CDN every request "
            "seems to come from the proxy. Set OCBRIDGE_TRUSTED_PROXIES (addresses/networks) or "
            "OCBRIDGE_TRUSTED_PROXY_HOPS.", id="ocbridge.W005"))
    key_file = settings.DATA_DIR / "secret_key"
    if not os.environ.get("OCBRIDGE_SECRET_KEY") and key_file.exists() and key_file.stat().st_mode & 0o077:
        found.append(checks.Warning(f"{key_file} is readable by other users (chmod 600).", id="ocbridge.W004"))
    return found
