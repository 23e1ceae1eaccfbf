"""Secrets at rest: MultiFernet over keys from OCBRIDGE_FERNET_KEYS or a key file in the data dir.

The first key encrypts; every key decrypts, so `ocbridge rotate-key` can add a key, re-encrypt all rows,
and drop the old keys afterwards.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


def _key_file() -> Path:
    return Path(settings.FERNET_KEYS_FILE)


def load_keys() -> list[bytes]:
    """Keys, newest first. Creates the key file on first use when no env keys are set."""
    if settings.FERNET_KEYS_ENV:
        return [k.strip().encode() for k in settings.FERNET_KEYS_ENV.split(",") if k.strip()]
    path = _key_file()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(Fernet.generate_key().decode() + "\n")
    return [line.strip().encode() for line in path.read_text().splitlines() if line.strip()]


_cache: dict = {}


def _stamp() -> object:
    """Changes whenever the keys may have: env value, or the key file's mtime (rotate-key in another process)."""
    if settings.FERNET_KEYS_ENV:
        return settings.FERNET_KEYS_ENV
    try:
        return _key_file().stat().st_mtime_ns
    except FileNotFoundError:
        return None


def _fernet() -> MultiFernet:
    stamp = _stamp()
    if _cache.get("stamp") != stamp or "fernet" not in _cache:
        fernet = MultiFernet([Fernet(k) for k in load_keys()])
        _cache.update(stamp=_stamp(), fernet=fernet)  # load_keys may have just created the file
    return _cache["fernet"]


def reset_cache() -> None:
    _cache.clear()


def _decrypt_bytes(token: bytes) -> bytes:
    try:
        return _fernet().decrypt(token)
    except InvalidToken:
        # Keys replaced within the file's mtime resolution: reload once before giving up.
        reset_cache()
        return _fernet().decrypt(token)


def encrypt(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _decrypt_bytes(token.encode()).decode()
    except InvalidToken as exc:  # wrong or lost key: say so instead of a bare traceback
        raise RuntimeError("cannot decrypt a stored secret: the Fernet key is missing or wrong") from exc


def encrypt_json(value: dict) -> str:
    return encrypt(json.dumps(value, sort_keys=True))


def decrypt_json(token: str) -> dict:
    return json.loads(decrypt(token)) if token else {}


def rotate(token: str) -> str:
    """Re-encrypt one token under the newest key."""
    return _fernet().rotate(token.encode()).decode()


def add_new_key() -> None:
    """Put a fresh key first in the key file (env-managed keys must be rotated by the operator)."""
    if settings.FERNET_KEYS_ENV:
        raise RuntimeError("keys come from OCBRIDGE_FERNET_KEYS: prepend a new key there, then run rotate-key")
    path = _key_file()
    keys = load_keys()
    path.write_text("\n".join([Fernet.generate_key().decode()] + [k.decode() for k in keys]) + "\n")
    reset_cache()


def drop_old_keys() -> None:
    """Keep only the newest key (after every row was re-encrypted)."""
    if settings.FERNET_KEYS_ENV:
        return
    keys = load_keys()
    _key_file().write_text(keys[0].decode() + "\n")
    reset_cache()
