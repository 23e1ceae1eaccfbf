"""Stores, connections and integrations as the hot paths read them, kept per process until one is edited.

Every webhook, order-status call and shop poll reads the same few rows (the connection behind a webhook token, its
store, the store's integrations). Reading them through the ORM cost more than the rest of a webhook's work, so each
process keeps them in memory and forgets them all whenever one of them changes:
- in the process that saved it at once (signals on save, delete and `shared_with` changes, again on commit);
- in every other process at its next look at the hub's config stamp, taken at most every CHECK_SECONDS: a file in the
  data directory on one machine, a Redis key where several machines share the hub (settings.REDIS_URL). Every
  save moves the stamp;
- and after MAX_AGE seconds whatever happened (a change made without signals, e.g. a queryset update).

Callers get their own copies: a handler that sets an attribute changes nothing for the next request.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models.base import ModelState
from django.db.models.signals import m2m_changed, post_delete, post_save

from ocbridge.core import redis_clients
from ocbridge.core.outage import Outage

log = logging.getLogger(__name__)

CHECK_SECONDS = 0.5  # another process's edit is seen this long after its commit at most
MAX_AGE = 60.0  # a change no signal saw (a queryset update) is seen this long after at most
REDIS_KEY = "ocbridge:config-stamp"

_lock = threading.Lock()
_entries: dict[tuple, tuple[float, object]] = {}
_state = {"stamp": None, "checked": 0.0, "redis": None, "generation": 0}
# Redis down: one line a minute, not a traceback per save and per look (every CHECK_SECONDS)
_stamp_outage = Outage(log, "config stamp", f"settings are read from the database each time; other processes "
                       f"see a change within {MAX_AGE:.0f} s")


# --- the stamp every process compares -------------------------------------------------------------------------


def _stamp_file() -> Path:
    return Path(settings.DATA_DIR) / "config.stamp"


def _redis(*, looks: bool = True):
    """The client for looks at the stamp, or for moving it. Both count a Redis that does not answer at once as down.
    A look skips a Redis that just failed (core.redis_breaker): the database is read instead, as when it fails. A move
    always asks: skipped, it would leave the other processes on the old settings up to MAX_AGE after a save made
    while Redis answers again — a failed move only does that while Redis really fails."""
    if _state["redis"] is None:
        _state["redis"] = (redis_clients.client(settings.REDIS_URL, redis_clients.REQUEST),
                           redis_clients.client(settings.REDIS_URL, redis_clients.REQUEST, skips=False))
    return _state["redis"][0 if looks else 1]


def read_stamp() -> object:
    """The hub's config stamp as every process sees it (None: not written yet)."""
    if getattr(settings, "REDIS_URL", ""):
        return _redis().get(REDIS_KEY)
    try:
        st = os.stat(_stamp_file())
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


def _move_stamp() -> None:
    if getattr(settings, "REDIS_URL", ""):
        _redis(looks=False).incr(REDIS_KEY)
        return
    path = _stamp_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".config.stamp.{os.getpid()}.{threading.get_ident()}")
    tmp.write_text(str(time.time_ns()))
    os.replace(tmp, path)  # a new inode each time: two moves within the clock's resolution still differ


def changed(instance=None, **_kwargs) -> None:
    """Forget everything here, move the stamp for the other processes — now, and again when the transaction
    commits (a process that reloaded before the commit read the old row)."""
    if instance is not None:
        instance.__dict__.pop("_served", None)  # a cached connection whose `shared_with` just changed
    _forget_and_move()
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(_forget_and_move)


def _forget_and_move() -> None:
    clear()
    try:
        _move_stamp()
    except Exception as exc:  # noqa: BLE001 - the save itself succeeded; other processes see it after MAX_AGE
        _stamp_outage.failed(exc)
    else:
        _stamp_outage.ok()


def clear() -> None:
    with _lock:
        _entries.clear()
        _state["checked"] = 0.0
        _state["generation"] += 1


def generation() -> int:
    """Moves whenever this process's cache is dropped: what a caller remembered beside it is stale then too."""
    _fresh_enough(time.monotonic())
    return _state["generation"]


def _fresh_enough(now: float) -> None:
    """Drop the cache when another process moved the stamp (looked at most every CHECK_SECONDS)."""
    if now - _state["checked"] < CHECK_SECONDS:
        return
    try:
        stamp = read_stamp()
    except Exception as exc:  # noqa: BLE001 - Redis away: read the database every time until it is back
        _stamp_outage.failed(exc)
        stamp = object()
    else:
        _stamp_outage.ok()
    with _lock:
        if stamp != _state["stamp"]:
            _entries.clear()
            _state["stamp"] = stamp
            _state["generation"] += 1
        _state["checked"] = now


def cached(key: tuple, load):
    """`load()`'s value under `key`, kept until a config change (or MAX_AGE)."""
    now = time.monotonic()
    _fresh_enough(now)
    with _lock:
        hit = _entries.get(key)
    if hit is not None and now - hit[0] < MAX_AGE:
        return hit[1]
    value = load()
    with _lock:
        _entries[key] = (now, value)
    return value


# --- what the hot paths read --------------------------------------------------------------------------------------


def _own(instance, leave: tuple[str, ...] = ()):
    """A copy of a cached row the caller may change: its dict and list values (secrets, settings) copied too, its
    related rows not (the caller sets copies of those). Fields in `leave` are left out: deferred, the ORM reads
    them on first use."""
    cls = type(instance)
    out = cls.__new__(cls)
    values = {k: v for k, v in instance.__dict__.items() if k not in leave}
    state = values["_state"] = ModelState.__new__(ModelState)  # copy.copy's reduce protocol cost more than the rest
    state.__dict__.update(instance._state.__dict__)
    state.fields_cache = {}
    for name, value in values.items():
        if type(value) in (dict, list):
            values[name] = _json_copy(value)
    out.__dict__.update(values)
    return out


def _json_copy(value):
    """Dicts and lists of a JSON value copied all the way down (several times cheaper than copy.deepcopy)."""
    kind = type(value)
    if kind is dict:
        return {k: _json_copy(v) for k, v in value.items()}
    if kind is list:
        return [_json_copy(v) for v in value]
    return value


def _copy_connection(conn):
    if conn is None:
        return None
    out = _own(conn)
    out.store = _own(conn.store)
    return out


def webhook_connection(service: str, token: str):
    """The enabled connection of this service behind a webhook URL token, with its store (None: unknown)."""
    from ocbridge.core.models import Connection

    def load():
        conn = (Connection.objects.active().select_related("store").filter(webhook_token=token, service=service)
                .first())
        if conn is not None:
            conn._served = conn.served_store_ids()  # Connection.served_store_ids answers from it
        return conn

    return _copy_connection(cached(("webhook", service, token), load))


def integration(store_id: int, kind: str, *, enabled_only: bool = False, with_settings: bool = True):
    """The store's integration of this kind (with its store), or None. `with_settings=False`: its settings are
    read from the database only if used (a webhook that only queues a job for it never does)."""
    found = _integration_row(store_id, kind)
    if found is None or (enabled_only and not found.enabled):
        return None
    out = _own(found, () if with_settings else ("settings",))
    out.store = _own(found.store)
    return out


def integration_id(store_id: int, kind: str) -> int | None:
    """The id of the store's integration of this kind (None: none), with no copy made: a webhook only names it."""
    found = _integration_row(store_id, kind)
    return found.pk if found is not None else None


def _integration_row(store_id: int, kind: str):
    """The cached row itself (never handed out: callers get a copy or its id)."""
    from ocbridge.core.models import Integration

    def load():
        return Integration.objects.filter(store_id=store_id, kind=kind).select_related("store").first()

    return cached(("integration", store_id, kind), load)


def integrations_of_stores(store_ids: list[int], kind: str, *, with_settings: bool = True) -> list:
    """The integrations of this kind of these stores, in the order of `store_ids` (stores without one left out)."""
    found = (integration(s, kind, with_settings=with_settings) for s in store_ids)
    return [i for i in found if i is not None]


def services_of(store_id: int) -> frozenset[str]:
    """The services of the store's connections (e.g. whether it has a Despatch Cloud account at all)."""
    from ocbridge.core.models import Connection

    return cached(("services", store_id), lambda: frozenset(
        Connection.objects.filter(store_id=store_id).values_list("service", flat=True)))


def connect_signals() -> None:
    """Called once from CoreConfig.ready()."""
    from ocbridge.core.models import Connection, Integration, Store

    for model in (Store, Connection, Integration):
        post_save.connect(changed, sender=model, dispatch_uid=f"config_cache.save.{model.__name__}")
        post_delete.connect(changed, sender=model, dispatch_uid=f"config_cache.delete.{model.__name__}")
    m2m_changed.connect(changed, sender=Connection.shared_with.through, dispatch_uid="config_cache.shared_with")
