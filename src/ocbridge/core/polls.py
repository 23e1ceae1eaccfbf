"""Routine polls without Job rows (DESIGN.md 2026-12-06: "routine polls write nothing when idle").

A routine poll (a shop's order feed, the watchdog…) runs often and usually finds nothing. It is not a Job: the
dispatcher of each `ocbridge worker` runs the due ones on a few poll threads of its own. A poll that finds work
creates Jobs, and those carry the exactly-once guarantees (keys, fenced claims, the outbox). A poll keeps its
progress in rows written only when they move (opencart.feed's cursors), so a worker killed mid-poll simply means
the next slot polls again from where the committed work ended.

Contract for a poll (register it from a module imported by an AppConfig.ready()):

    @register_poll("opencart.shop", targets=shop_targets, label=_("Reading new orders from the shop"))
    def poll_shop(target): ...      # targets() -> Target(key, every, store_id)s; idempotent; raises on failure

Timing: each target is due once per slot of `every` seconds on the hub's clock (so the test clock moves polls
too), phase-shifted per key so a thousand shops do not all poll in the same second. Of several dispatchers, the
one that takes a slot's lease runs it and holds the target until that poll ends (renewed while it runs; a dead
dispatcher's hold expires after RUN_SECONDS), so a poll that outlasts its slot is never started again elsewhere
meanwhile (`Leases`: a file per target on one machine, Redis when the hub has it); the lease store is the
scheduler's scratch space, never the hub database. A target can also be wanted now (`want()`: a push named its shop,
opencart.push): a dispatcher's poll loop is woken and polls it under the same lease, off its slots; wanted while its
poll runs somewhere, that poll is run once more by its holder when it ends.

What the dashboard sees: a `PollHealth` row per target, written only when a poll of it fails and when it recovers
(core.attention shows the failing ones); the dispatchers' beat in the lease store (`dispatcher_seen()`), which
tells a hub with no worker running; and the lease store's slow-lane record (`slow_lane()`: which targets run on
the slow lane, since when, their last poll there), written only for targets on that lane.

Back-off and fairness (an agency's hub reads a thousand shops, a few of them down or slow at any time): a target
whose poll failed waits `backoff()` before its next try — twice its interval after the second failure in a row, four
times after the third, up to BACKOFF_MAX — kept on its health row (`retry_at`, shown on the store page) so every
dispatcher honours it. A target whose last poll failed or took longer than SLOW_SECONDS runs on a lane of its own
(`slow_threads`), so shops that hang cannot hold the threads the healthy shops are polled on. The slow-lane record
is that lane for every dispatcher: each lease is taken with the target's record in one step, so a target any
dispatcher saw slow is on the slow lane wherever it runs next, and on the healthy lane again after one good poll.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import heapq
import itertools
import json
import logging
import os
import queue
import re
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, connections, transaction
from django.utils import translation

from ocbridge.core import clock, exchanges, redis_clients, wake
from ocbridge.core.errors import ConfigurationError, ServiceError
from ocbridge.core.masking import storable_text
from ocbridge.core.outage import Outage, broker_down
from ocbridge.core.sentences import said_data, sentence_of

log = logging.getLogger(__name__)
# the lease store (Redis) down: one line a minute, not a traceback per tick; no routine poll starts meanwhile
_lease_outage = Outage(log, "poll lease store", "routine polls wait until it answers")
# the same under pages (their shorter wait: a timeout there says nothing of the poll loop's): no traceback per read
_page_outage = Outage(log, "poll lease store", "pages leave out last poll times, the slow lane and the worker's beat")

REFRESH_SECONDS = 5.0  # how often a dispatcher re-reads the targets (stores switched on, intervals changed)
BACKOFF_MAX = 600.0  # seconds: a shop down for hours is still tried every ten minutes
SLOW_SECONDS = 5.0  # a poll that took longer than this (or failed) runs on the slow lane next time
BEAT_NAME = "dispatcher"
LANE_NAME = "slow-lane"  # the lease store's record of the targets on the slow lane (shown on the dashboard)
# A dispatcher's hold on a target it has queued or runs, renewed every REFRESH_SECONDS while it does: a slot that
# begins meanwhile is not run by another dispatcher; a dispatcher that died frees its targets after this long.
RUN_SECONDS = 30.0
WANTED = "wanted"  # targets wanted now (a push named their shop: opencart.push), outside their slots


@dataclass(frozen=True)
class Lease:
    """A slot taken: the target is this dispatcher's until it releases it. `lane`: its slow-lane record as the slot
    was taken (None: it runs on the healthy lane) — read in the same step, so every dispatcher sees one lane."""

    lane: dict | None


@dataclass(frozen=True)
class Target:
    """One thing a poll reads: `key` names it (a shop identity, a connection…), `every` its interval in seconds."""

    key: str
    every: float
    store_id: int | None = None  # the store the dashboard shows its health under (None: hub-wide)
    # What the target's rows said when the targets were listed (hashable): a poll may rely on what it remembers of
    # the target only while this is unchanged (opencart.feed's quiet polls: the shop's stores and integrations).
    stamp: object = field(default=None, compare=False)


@dataclass(frozen=True)
class Poll:
    name: str
    targets: Callable[[], Iterable[Target]]
    run: Callable[[Target], object]
    label: str  # what it does, in the owner's words (translatable): shown when it keeps failing
    own_attention: bool = False  # the feature shows its failures itself (core.attention's generic line skips it)


_POLLS: dict[str, Poll] = {}


def register_poll(name: str, *, targets: Callable[[], Iterable[Target]], label,
                  own_attention: bool = False) -> Callable:
    """Decorator: run `fn(target)` for each of `targets()` once per slot of `target.every` seconds."""

    def deco(fn):
        if name in _POLLS and _POLLS[name].run is not fn:
            raise ValueError(f"poll {name} registered twice")
        _POLLS[name] = Poll(name, targets, fn, label, own_attention)
        return fn

    return deco


def registered() -> dict[str, Poll]:
    return dict(_POLLS)


def _timing(target: Target) -> tuple[float, float]:
    """(interval, phase): a stable per-key phase spreads targets over the interval."""
    every = max(1.0, float(target.every))
    return every, (zlib.crc32(target.key.encode()) % int(every * 1000)) / 1000


def slot_of(target: Target, now: float) -> int:
    """The slot a target is in at `now` (epoch seconds)."""
    every, phase = _timing(target)
    return int((now + phase) // every)


# --- leases: which dispatcher runs a slot ------------------------------------------------------------------


class FileLeases:
    """One machine (SQLite hub): a small file per target under DATA_DIR/polls holds the last slot taken, and its lock
    (flock: read-compare-write atomic between the worker processes; a killed process's lock is released by the OS)
    guards the target's `run` file (who holds it, until when) and `again` file (wanted while it ran). Targets wanted
    now are files in `wanted/`; a datagram wakes the poll loop listening for this folder (core.wake)."""

    def __init__(self, root: Path):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self._listener = None  # the wake-up this process's poll loop waits on (wait())

    def _path(self, *parts: str) -> Path:
        return self.root / "--".join(re.sub(r"[^A-Za-z0-9_.-]", "_", p) for p in parts)

    @contextlib.contextmanager
    def _locked(self, name: str, key: str):
        """The target's slot file, locked: its lock guards the target's run and again files too."""
        import fcntl

        fd = os.open(self._path(name, key), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield fd
        finally:
            os.close(fd)

    def _holder(self, name: str, key: str) -> str | None:
        """The dispatcher holding the target (its run file names it until it expires); the caller holds the lock."""
        try:
            holder, until = self._path(name, key, "run").read_text().rsplit(" ", 1)
        except (FileNotFoundError, ValueError):
            return None
        return holder if float(until) > time.time() else None

    def _hold(self, name: str, key: str, owner: str) -> None:
        self._path(name, key, "run").write_text(f"{owner} {time.time() + RUN_SECONDS!r}")

    def take(self, name: str, key: str, slot: int | None, ttl: float, owner: str) -> Lease | None:
        with self._locked(name, key) as fd:
            if slot is not None and os.read(fd, 32).decode(errors="replace") == str(slot):
                return None
            if self._holder(name, key) is not None:
                if slot is None:  # wanted now while it runs: its holder polls it once more
                    self._path(name, key, "again").touch()
                return None
            if slot is not None:
                os.lseek(fd, 0, os.SEEK_SET)
                os.ftruncate(fd, 0)
                os.write(fd, str(slot).encode())
            self._hold(name, key, owner)
            self._path(name, key, "again").unlink(missing_ok=True)  # this poll reads what it was wanted for
            return Lease(self.slow_targets().get(f"{name}|{key}"))

    def release(self, name: str, key: str, owner: str) -> Lease | None:
        with self._locked(name, key):
            if self._holder(name, key) != owner:
                return None
            try:
                self._path(name, key, "again").unlink()
            except FileNotFoundError:
                self._path(name, key, "run").unlink(missing_ok=True)
                return None
            self._hold(name, key, owner)
            return Lease(self.slow_targets().get(f"{name}|{key}"))

    def renew(self, idents: Iterable[tuple[str, str]], owner: str) -> None:
        for name, key in idents:
            with self._locked(name, key):
                if self._holder(name, key) == owner:
                    self._hold(name, key, owner)

    def want(self, name: str, key: str) -> None:
        """Mark the target wanted now (a file in `wanted/`, written whole) and wake a listening dispatcher."""
        folder = self.root / WANTED
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / self._path(name, key).name
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
        tmp.write_text(json.dumps([name, key]))
        os.replace(tmp, path)
        wake.send(to=wake.address_of(str(self.root)))

    def wait(self, seconds: float) -> list[tuple[str, str]]:
        """Wait up to `seconds` (less when a target is wanted: the listening dispatcher is woken, the others look
        after their wait) and claim the targets wanted meanwhile (removing a mark claims it: one dispatcher does)."""
        if self._listener is None:
            self._listener = wake.Listener(wake.address_of(str(self.root)))
        self._listener.wait(seconds)
        return self.wanted()

    def wanted(self) -> list[tuple[str, str]]:
        """Claim the targets wanted now, without waiting."""
        try:
            marks = [e.path for e in os.scandir(self.root / WANTED) if not e.name.startswith(".")]
        except FileNotFoundError:
            return []
        claimed = []
        for path in marks:
            try:
                ident = json.loads(Path(path).read_text())
                os.unlink(path)
            except (FileNotFoundError, ValueError):  # claimed by another dispatcher, or replaced meanwhile
                continue
            claimed.append((ident[0], ident[1]))
        return claimed

    def done(self, name: str, key: str, when: float) -> None:
        self.root.mkdir(parents=True, exist_ok=True)  # emptied meanwhile (tests): made again
        self._path(name, key, "ok").write_text(repr(when))

    def last_done(self, name: str, key: str) -> float | None:
        try:
            return float(self._path(name, key, "ok").read_text())
        except (FileNotFoundError, ValueError):
            return None

    def note(self, name: str, key: str, value: str | None) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        path = self._path(name, key, "note")
        if value is None:
            path.unlink(missing_ok=True)
        else:
            tmp = path.with_name(path.name + f".{os.getpid()}.{threading.get_ident()}")
            tmp.write_text(value)
            os.replace(tmp, path)  # whole or not at all: a reader never sees half a note

    def noted(self, name: str, key: str) -> str | None:
        try:
            return self._path(name, key, "note").read_text()
        except FileNotFoundError:
            return None

    def beat(self) -> None:
        self._path(BEAT_NAME).touch()

    def set_slow(self, ident: str, entry: dict | None) -> None:
        """Put a target on the slow-lane record (`entry`) or take it off (None): one small JSON file, changed under
        a lock — written only for targets on the slow lane, never for a healthy poll."""
        import fcntl

        self.root.mkdir(parents=True, exist_ok=True)
        # Writers take a lock file of their own; the record is replaced whole (rename), so a reader without the lock
        # (slow_targets(): every take() reads it) never sees it half-written — an emptied file read as "no target on
        # the slow lane" put a slow target on the healthy lane and left its record behind.
        fd = os.open(self._path(LANE_NAME, "lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            data = self.slow_targets()
            if entry is None and ident not in data:
                return
            data.pop(ident, None) if entry is None else data.__setitem__(ident, entry)
            path = self._path(LANE_NAME)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
            tmp.write_text(json.dumps(data))
            os.replace(tmp, path)
        finally:
            os.close(fd)

    def slow_targets(self) -> dict[str, dict]:
        try:
            return json.loads(self._path(LANE_NAME).read_text() or "{}")
        except FileNotFoundError:
            return {}

    def last_beat(self) -> float | None:
        try:
            return self._path(BEAT_NAME).stat().st_mtime
        except FileNotFoundError:
            return None


class RedisLeases:
    """Several machines (PostgreSQL + Redis): the same, as one Redis key per target, compared and set by a script."""

    # KEYS: the slot, the run, the slow-lane record, again; ARGV: slot ('' when wanted now), its ttl, owner, run ms,
    # the target's lane name. Wanted now while another run holds it: that run polls once more (`again`).
    TAKE = ("if ARGV[1] ~= '' and redis.call('GET', KEYS[1]) == ARGV[1] then return false end "
            "if redis.call('EXISTS', KEYS[2]) == 1 then "
            "  if ARGV[1] == '' then redis.call('SET', KEYS[4], '1', 'EX', 86400) end return false end "
            "if ARGV[1] ~= '' then redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) end "
            "redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[4]) "
            "redis.call('DEL', KEYS[4]) "
            "return {1, redis.call('HGET', KEYS[3], ARGV[5]) or ''}")
    # KEYS: the run, again, the slow-lane record; ARGV: owner, run ms, the target's lane name
    RELEASE = ("if redis.call('GET', KEYS[1]) ~= ARGV[1] then return false end "
               "if redis.call('DEL', KEYS[2]) == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) "
               "  return {1, redis.call('HGET', KEYS[3], ARGV[3]) or ''} end "
               "redis.call('DEL', KEYS[1]) return false")
    RENEW = ("for _, key in ipairs(KEYS) do if redis.call('GET', key) == ARGV[1] then "
             "redis.call('PEXPIRE', key, ARGV[2]) end end return 0")

    def __init__(self, url: str, prefix: str = "ocbridge:poll:"):
        # the poll loop's and jobs' calls may wait (a slot skipped is a poll late); what pages read may not
        self.redis = redis_clients.client(url, redis_clients.WORKER)
        self.pages = redis_clients.client(url, redis_clients.REQUEST)
        self.prefix = prefix

    def _keys(self, name: str, key: str, *parts: str) -> list[str]:
        base = f"{self.prefix}{name}:{key}"
        return [base if p == "slot" else f"{self.prefix}{LANE_NAME}" if p == "lane" else f"{base}:{p}" for p in parts]

    @staticmethod
    def _lease(answer) -> Lease | None:
        return None if answer is None else Lease(json.loads(answer[1]) if answer[1] else None)

    def take(self, name: str, key: str, slot: int | None, ttl: float, owner: str) -> Lease | None:
        return self._lease(self.redis.eval(self.TAKE, 4, *self._keys(name, key, "slot", "run", "lane", "again"),
                                           "" if slot is None else str(slot), max(1, int(ttl)), owner,
                                           int(RUN_SECONDS * 1000), f"{name}|{key}"))

    def release(self, name: str, key: str, owner: str) -> Lease | None:
        return self._lease(self.redis.eval(self.RELEASE, 3, *self._keys(name, key, "run", "again", "lane"), owner,
                                           int(RUN_SECONDS * 1000), f"{name}|{key}"))

    def renew(self, idents: Iterable[tuple[str, str]], owner: str) -> None:
        keys = [self._keys(name, key, "run")[0] for name, key in idents]
        if keys:
            self.redis.eval(self.RENEW, len(keys), *keys, owner, int(RUN_SECONDS * 1000))

    def want(self, name: str, key: str) -> None:
        """Mark the target wanted now: a list the dispatchers' poll loops wait on (one of them takes each mark)."""
        self.pages.rpush(f"{self.prefix}{WANTED}", json.dumps([name, key]))

    def wait(self, seconds: float) -> list[tuple[str, str]]:
        """Wait up to `seconds`, less when a target is wanted; claim the targets wanted meanwhile."""
        first = self.redis.blpop([f"{self.prefix}{WANTED}"], timeout=max(0.01, seconds))
        return [] if first is None else [tuple(json.loads(first[1])), *self.wanted()]

    def wanted(self) -> list[tuple[str, str]]:
        """Claim the targets wanted now, without waiting."""
        return [tuple(json.loads(v)) for v in self.redis.lpop(f"{self.prefix}{WANTED}", 1000) or []]

    def done(self, name: str, key: str, when: float) -> None:
        self.redis.set(f"{self.prefix}{name}:{key}:ok", repr(when), ex=7 * 24 * 3600)

    def last_done(self, name: str, key: str) -> float | None:
        value = self.pages.get(f"{self.prefix}{name}:{key}:ok")
        return float(value) if value else None

    def note(self, name: str, key: str, value: str | None) -> None:
        if value is None:
            self.redis.delete(f"{self.prefix}{name}:{key}:note")
        else:
            self.redis.set(f"{self.prefix}{name}:{key}:note", value)

    def noted(self, name: str, key: str) -> str | None:
        value = self.redis.get(f"{self.prefix}{name}:{key}:note")
        return value.decode() if value is not None else None

    def beat(self) -> None:
        self.redis.set(f"{self.prefix}{BEAT_NAME}", repr(time.time()), ex=24 * 3600)

    def set_slow(self, ident: str, entry: dict | None) -> None:
        if entry is None:
            self.redis.hdel(f"{self.prefix}{LANE_NAME}", ident)
        else:
            self.redis.hset(f"{self.prefix}{LANE_NAME}", ident, json.dumps(entry))

    def slow_targets(self) -> dict[str, dict]:
        return {k.decode(): json.loads(v) for k, v in self.pages.hgetall(f"{self.prefix}{LANE_NAME}").items()}

    def last_beat(self) -> float | None:
        value = self.pages.get(f"{self.prefix}{BEAT_NAME}")
        return float(value) if value else None


_leases: dict[tuple[str, str], object] = {}  # this process's lease store, per (Redis URL, data dir)


def default_leases():
    url = getattr(settings, "REDIS_URL", "")
    where = (url, str(settings.DATA_DIR))
    if where not in _leases:
        _leases[where] = RedisLeases(url) if url else FileLeases(Path(settings.DATA_DIR) / "polls")
    return _leases[where]


def _page_read(read: Callable[[], object], nothing: object) -> object:
    """`read()` of the lease store for a page, or `nothing` when it fails: the page says less rather than break. Redis
    unreachable (or skipped, core.redis_breaker) is one line a minute for all reads; anything else a traceback."""
    try:
        value = read()
    except Exception as exc:  # noqa: BLE001 - scratch space: a page never breaks on it
        if broker_down(exc):
            _page_outage.failed(exc)
        else:
            log.warning("poll leases unreadable", exc_info=True)
        return nothing
    _page_outage.ok()
    return value


def last_ok(name: str, key: str) -> dt.datetime | None:
    """When a poll of this target last ran to its end without an error (hub clock; None: not known here). Kept in
    the lease store, not the hub database, so "last read at" on a page costs an idle poll no write."""
    when = _page_read(lambda: default_leases().last_done(name, key), None)
    return None if when is None else dt.datetime.fromtimestamp(when, dt.timezone.utc)


def remember(name: str, key: str, value: str | None) -> None:
    """Keep a short note for the target's next polls (None: forget it), in the lease store — kept across worker
    restarts and seen by every dispatcher, never written to the hub database. E.g. the time of a read-once inbox
    read until what it returned is stored. Raises when the lease store cannot keep it (the poll must not go on)."""
    default_leases().note(name, key, value)


def remembered(name: str, key: str) -> str | None:
    return default_leases().noted(name, key)


def want(name: str, key: str) -> None:
    """Poll this target now, outside its slots (opencart.push): marked in the lease store, which wakes a dispatcher's
    poll loop; the mark waits there while no worker runs. Raises when the lease store cannot keep it."""
    default_leases().want(name, key)


def slow_lane() -> dict[tuple[str, str], dict]:
    """(poll, key) → {"store", "since", "at", "seconds", "ok"} of each target a dispatcher polls on its slow lane:
    since when (epoch seconds), its last poll there (when, how long, whether it went well). Kept in the lease store
    (one read for a whole page), not the hub database."""
    rows = _page_read(lambda: default_leases().slow_targets(), {})
    return {tuple(ident.split("|", 1)): entry for ident, entry in rows.items() if "|" in ident}


def dispatcher_seen() -> float | None:
    """Seconds since a dispatcher last read its targets (None: no dispatcher has run with this hub's lease store)."""
    beat = _page_read(lambda: default_leases().last_beat(), None)  # Redis down: the worker cannot run either
    return None if beat is None else max(0.0, time.time() - beat)


# --- health: written when a poll fails and when it recovers ------------------------------------------------------

_failing: dict[tuple[str, str], str] | None = None  # (poll, key) → error, as this process last read or wrote it
_retry_at: dict[tuple[str, str], float] = {}  # (poll, key) → epoch seconds before which it is not tried again
_failing_lock = threading.Lock()


def backoff(failures: int, every: float) -> float:
    """Seconds to wait after the `failures`-th failure in a row: the interval, then doubling, at most BACKOFF_MAX
    (or the interval, when that is longer)."""
    return min(float(every) * 2 ** max(0, failures - 1), max(BACKOFF_MAX, float(every)))


def _load_failing() -> dict[tuple[str, str], str]:
    from ocbridge.core.models import PollHealth

    global _failing
    rows = PollHealth.objects.filter(failing_since__isnull=False).values_list("poll", "key", "last_error", "retry_at")
    loaded = {(p, k): e for p, k, e, _r in rows}
    with _failing_lock:
        _failing = loaded
        _retry_at.clear()
        _retry_at.update({(p, k): r.timestamp() for p, k, _e, r in rows if r is not None})
    return loaded


def _known_failing() -> dict[tuple[str, str], str]:
    # The dict itself is returned, not the global read again: a reset() on another thread may set it to None.
    known = _failing
    return known if known is not None else _load_failing()


def retry_at(name: str, key: str) -> float | None:
    """Epoch seconds before which a failing target is not polled again (None: poll it at its next slot)."""
    with _failing_lock:
        return _retry_at.get((name, key))


def _record(name: str, target: Target, error: str | None, sentence: dict | None = None) -> bool:
    """Write the target's health row: each failure (counted, with the time of the next try), and the recovery of a
    failing one; a healthy poll writes nothing. True when what is wrong is new (started failing or failing
    otherwise)."""
    from ocbridge.core.models import PollHealth

    ident = (name, target.key)
    known = _known_failing()
    if error is None:
        if ident not in known:
            return False  # healthy and known healthy: nothing to write
        PollHealth.objects.filter(poll=name, key=target.key).update(failing_since=None, recovered_at=clock.now(),
                                                                    failures=0, retry_at=None)
        with _failing_lock:
            known.pop(ident, None)
            _retry_at.pop(ident, None)
        return False
    retry = _save_failure(name, target, error, sentence)
    if retry is None:
        return False  # its store was deleted while the poll ran: nothing left to report on
    new = known.get(ident) != error
    with _failing_lock:
        known[ident] = error
        _retry_at[ident] = retry.timestamp()
    return new


def _save_failure(name: str, target: Target, error: str, sentence: dict | None = None) -> dt.datetime | None:
    """Count one more failure on the target's health row (made on its first failure); returns the time of its next
    try. Read and written under the row's lock (SELECT … FOR UPDATE; on SQLite the transaction's write lock), so
    dispatchers recording at once lose no count; of two first failures at once, the one whose INSERT loses updates
    the winner's row. None when the target's store was deleted meanwhile (its row would point at nothing)."""
    from ocbridge.core.models import PollHealth, Store

    for attempt in (1, 2):
        now = clock.now()
        try:
            with transaction.atomic():
                row = PollHealth.objects.select_for_update().filter(poll=name, key=target.key).first()
                failures = 1 if row is None or row.failing_since is None else row.failures + 1
                fields = {"store_id": target.store_id, "last_error": error, "last_error_said": sentence,
                          "updated": now, "failures": failures,
                          "retry_at": now + dt.timedelta(seconds=backoff(failures, target.every))}
                if row is None:
                    PollHealth.objects.create(poll=name, key=target.key, failing_since=now, **fields)
                else:
                    if row.failing_since is None:
                        fields["failing_since"] = now
                    PollHealth.objects.filter(pk=row.pk).update(**fields)
            return fields["retry_at"]
        except IntegrityError:
            if target.store_id is not None and not Store.objects.filter(pk=target.store_id).exists():
                return None
            if attempt == 2:
                raise
    return None


def last_read(name: str, key: str, stored: dt.datetime | None = None) -> dt.datetime | None:
    """What a page shows as "last read": the later of the poll's last clean run and a time the feature stored."""
    ran = last_ok(name, key)
    return max(ran, stored) if ran is not None and stored is not None else ran or stored


# --- read windows: a poll's position, stored only when it found something ---------------------------------------

CHECKPOINT = 3600.0  # seconds: an idle poll's position is stored at most this far behind (bounds a restart's re-read)
_cursors: dict[tuple[str, str], dt.datetime] = {}  # (poll, key) → end of the last window this process read


def window_start(name: str, key: str, stored: dt.datetime | None) -> dt.datetime | None:
    """Where the next read of a time window starts: the later of the stored position and the end of the last window
    this process read (which it did not store: nothing was found there)."""
    mine = _cursors.get((name, key))
    return max(stored, mine) if stored is not None and mine is not None else stored or mine


def window_read(name: str, key: str, stored: dt.datetime | None, until: dt.datetime, *, found: bool) -> bool:
    """Remember that the window up to `until` was read; True when the caller should store `until` now: the read
    found something, nothing is stored yet, or the stored position is more than CHECKPOINT old — so an idle poll
    writes nothing (at most one write an hour), and a restarted worker re-reads at most that hour."""
    _cursors[(name, key)] = until
    return found or stored is None or (until - stored).total_seconds() > CHECKPOINT


def integration_key(integration) -> str:
    return f"integration-{integration.pk}"


def integration_targets(kind: str, every: Callable[[object], float | None] | None = None) -> list[Target]:
    """One target per enabled `kind` integration with a connection on an enabled store, keyed by the integration,
    polled every `every(integration)` seconds (default: its store's poll interval; None: not polled)."""
    from ocbridge.core.models import Integration

    rows = Integration.objects.filter(kind=kind, enabled=True, store__enabled=True, connection__isnull=False
                                      ).select_related("store").order_by("pk")
    seconds = {i.pk: every(i) if every else i.store.poll_seconds for i in rows}
    return [Target(key=integration_key(i), every=seconds[i.pk], store_id=i.store_id) for i in rows
            if seconds[i.pk] is not None]


def integration_of(target: Target):
    """The integration an integration_targets() target names, with its store and connection (None: deleted)."""
    from ocbridge.core.models import Integration

    pk = int(target.key.removeprefix("integration-"))
    return Integration.objects.select_related("store", "connection").filter(pk=pk).first()


def describe(exc: Exception) -> str:
    """One line for the owner, in English (the stored text, for logs; pages show `sentences.said_data(exc)` in the reader's
    language where the error has one): our classified errors' own words (the service's message), else the error's
    class and first line (drivers add "background" links and SQL below it)."""
    sentence = sentence_of(exc)
    if sentence is not None:
        return storable_text(sentence.english().strip()[:1000])
    if isinstance(exc, ServiceError) and exc.message:
        return storable_text(str(exc.message).strip()[:1000])
    with translation.override("en"):  # a lazily translated message
        first = next((line for line in str(exc).splitlines() if line.strip()), "")
    text = first if isinstance(exc, (ServiceError, ConfigurationError)) else f"{type(exc).__name__}: {first}"
    return storable_text(text[:1000])


def run_once(poll: Poll, target: Target) -> bool:
    """Run one poll of one target here and now; record its health. True when it did its work.

    The Exchanges its reads record are held (core.exchanges.held) and saved only when the poll returns something
    true (it found work: the reads that found it are logged with it) or fails; an idle poll's reads are dropped.
    A poll that ran to its end leaves its time in the lease store (`last_ok`)."""
    with exchanges.held() as reads:
        try:
            found = poll.run(target)
        except Exception as exc:  # noqa: BLE001 - one target's failure is recorded and must not stop the others
            _keep(reads, poll, target)
            changed = _record(poll.name, target, describe(exc), said_data(exc))
            log.warning("poll %s of %s failed: %s", poll.name, target.key, exc, exc_info=changed)  # traceback once
            return False
        if found:
            reads.keep()
    _record(poll.name, target, None)
    try:
        default_leases().done(poll.name, target.key, clock.now().timestamp())
    except Exception as exc:  # the lease store is the scheduler's scratch space: a page says less, the poll still ran
        _lease_failed(exc, "poll %s of %s: last run not kept", poll.name, target.key)
    return True


def _lease_failed(exc: BaseException, message: str, *args) -> None:
    """A poll's write to the lease store (its last run, its lane) failed: Redis unreachable (or skipped) is the poll
    loop's one line a minute (_lease_outage), not a traceback per poll; anything else keeps its traceback."""
    if broker_down(exc):
        _lease_outage.failed(exc)
    else:
        log.warning(message, *args, exc_info=True)


def _keep(reads, poll: Poll, target: Target) -> None:
    try:
        reads.keep()
    except Exception:  # the hub is locked or down: the failure is still recorded (or tried) below
        log.warning("poll %s of %s: its requests not logged", poll.name, target.key, exc_info=True)


def reset() -> None:
    """Tests: forget what this process knows of the health rows (the database was emptied)."""
    global _failing
    with _failing_lock:
        _failing = None
        _retry_at.clear()
    _leases.clear()
    _cursors.clear()


def run_one(name: str, key: str) -> bool:
    """Tests, benchmarks and "read now" buttons: one poll of one target here and now (False: no such target now)."""
    poll = _POLLS[name]
    target = next((t for t in poll.targets() if t.key == key), None)
    return target is not None and run_once(poll, target)


def run_all(name: str | None = None) -> int:
    """Tests and CLI: every registered poll (or `name`) once for each target, in this thread. Returns how many ran."""
    ran = 0
    for poll in _POLLS.values():
        if name is None or poll.name == name:
            for target in poll.targets():
                run_once(poll, target)
                ran += 1
    return ran


# --- the scheduler a dispatcher runs ----------------------------------------------------------------------------


@dataclass
class Lane:
    """A queue of due polls and the threads that run them: `base` threads, more while polls wait for a free one
    (up to `most`), back to `base` when the extra ones find nothing to do for IDLE_SECONDS."""

    base: int
    most: int
    todo: queue.SimpleQueue = field(default_factory=queue.SimpleQueue)
    size: int = 0  # threads it should have now (base ≤ size ≤ most)
    alive: int = 0  # threads it has, replaced stuck ones included
    busy: int = 0  # threads running a poll now


IDLE_SECONDS = 60.0  # a thread added for a backlog ends after this long without work
MOST_PER_BASE = 8  # a lane grows to at most this many times its base size


class Scheduler:
    """One per dispatcher: knows the targets, starts each slot it wins on its poll threads, never two runs of one
    target at once in this process. `tick()` returns the seconds until the next slot begins.

    Two lanes: `threads` threads for targets whose last poll went well, `slow_threads` for those whose last poll
    failed or took longer than SLOW_SECONDS — a shop that hangs holds a slow-lane thread, never a healthy shop's.
    A lane adds a thread whenever a poll is due while all its threads are busy (up to MOST_PER_BASE × its size;
    the extra ones end after IDLE_SECONDS without work): polls run as many at once as the shops' answer times need
    — a poll mostly waits on its shop, so 4 threads of 170 ms polls made 23 polls a second where a thousand shops
    at 30 s need 34 — and the first round after a start (every shop's pool opened, its layout read) is not queued
    behind four threads. A shop that stops answering while on the healthy lane holds its thread at most
    SLOW_SECONDS: then a new thread takes its place (the spare ones end when the stuck polls do). A failing target
    is not started before its `retry_at` (back-off)."""

    def __init__(self, threads: int = 4, leases=None, slow_threads: int | None = None):
        self.leases = leases or default_leases()
        slow_threads = max(1, threads // 2) if slow_threads is None else slow_threads
        self.lane = Lane(threads, max(threads, MOST_PER_BASE * threads))
        self.slow_lane = Lane(slow_threads, max(slow_threads, MOST_PER_BASE * slow_threads))
        self.todo, self.slow_todo = self.lane.todo, self.slow_lane.todo
        # queued or running here (how many times: a poll wanted again is queued before its run ends): this
        # dispatcher holds their leases
        self.running: collections.Counter[tuple[str, str]] = collections.Counter()
        self.owner = uuid.uuid4().hex  # names this dispatcher on the leases it holds
        self.renewed = time.monotonic()
        self.seen: dict[tuple[str, str], int] = {}  # the last slot of each target this dispatcher handled
        self.targets: list[tuple[Poll, Target]] = []
        self.by_ident: dict[tuple[str, str], tuple[Poll, Target]] = {}  # the same, for targets wanted now
        self.heap: list[tuple[float, int]] = []  # (when the slot of self.targets[n] begins, n)
        self.heaped: list | None = None  # the target list the heap was built from
        self.refreshed = float("-inf")
        self.lock = threading.Lock()
        self.threads = threads
        self.busy_since: dict[str, float] = {}  # healthy-lane thread → when its current poll started
        self.relieved: set[str] = set()  # healthy-lane threads stuck past SLOW_SECONDS, already replaced
        self.names = itertools.count()
        with self.lock:
            for lane in (self.lane, self.slow_lane):
                lane.size = lane.base
                for _ in range(lane.base):
                    self._start(lane)

    @property
    def healthy_alive(self) -> int:
        return self.lane.alive

    def _start(self, lane: Lane) -> None:
        """A new thread on the lane (the caller holds self.lock)."""
        lane.alive += 1
        name = f"poll-{next(self.names)}" if lane is self.lane else f"poll-slow-{next(self.names)}"
        # daemon threads: a stopping worker does not wait for a slow shop
        threading.Thread(target=self._work, args=(lane,), name=name, daemon=True).start()

    def _grow(self) -> None:
        """A thread more on each lane whose due polls wait while all its threads are busy."""
        with self.lock:
            for lane in (self.lane, self.slow_lane):
                working = lane.alive - (len(self.relieved) if lane is self.lane else 0)
                if not lane.todo.empty() and lane.busy >= working and lane.size < lane.most:
                    lane.size += 1
                    self._start(lane)

    def _relieve(self) -> None:
        """Healthy-lane polls running past SLOW_SECONDS hand their place to new threads."""
        now = time.monotonic()
        with self.lock:
            stuck = [n for n, t0 in self.busy_since.items() if now - t0 > SLOW_SECONDS and n not in self.relieved]
            for name in stuck[:max(0, self.lane.most + 3 * self.threads - self.lane.alive)]:
                self.relieved.add(name)
                self._start(self.lane)

    def _refresh(self) -> None:
        targets = []
        for poll in list(_POLLS.values()):
            try:
                targets += [(poll, t) for t in poll.targets()]
            except Exception:  # one poll's broken target list must not stop the others
                log.exception("poll %s: listing targets failed", poll.name)
        self.targets = targets
        self.by_ident = {(p.name, t.key): (p, t) for p, t in targets}
        _load_failing()  # another process may have recorded a failure or a recovery meanwhile (its back-off)
        self.leases.beat()
        try:
            recorded = self.leases.slow_targets()
            listed = {f"{p.name}|{t.key}": (p.name, t.key) for p, t in targets}
            for name in set(recorded) - set(listed):  # gone meanwhile (store switched off or deleted): off the record
                self.leases.set_slow(name, None)
        except Exception:  # scratch space: the page may show a gone target a while longer
            log.warning("slow lane record not tidied", exc_info=True)

    def _schedule(self, now: float) -> None:
        """The heap of when each target's next slot begins (the start of its current slot when that one is not
        handled yet), built again whenever the target list changes: a tick then looks only at the due targets —
        with a thousand shops at 30 s the dispatcher wakes ~33 times a second, and a loop over every target on
        each wake cost more CPU than the polls themselves."""
        heap = []
        for n, (poll, target) in enumerate(self.targets):
            every, phase = _timing(target)
            slot = slot_of(target, now)
            due = self.seen.get((poll.name, target.key)) != slot
            heap.append((float("-inf") if due else (slot + 1) * every - phase, n))  # the due ones in list order
        heapq.heapify(heap)
        self.heap, self.heaped = heap, self.targets

    def tick(self) -> float:
        self._relieve()
        mono = time.monotonic()
        if mono - self.refreshed >= REFRESH_SECONDS:
            self.refreshed = mono
            self._refresh()
        if mono - self.renewed >= REFRESH_SECONDS:
            self.renewed = mono
            self._renew()
        now = clock.now().timestamp()
        if self.heaped is not self.targets:
            self._schedule(now)
        later = []  # pushed after the loop: a boundary that rounds to `now` is looked at again next tick
        while self.heap and self.heap[0][0] <= now:
            n = heapq.heappop(self.heap)[1]
            poll, target = self.targets[n]
            ident = (poll.name, target.key)
            slot = slot_of(target, now)
            if self.seen.get(ident) != slot:
                self.seen[ident] = slot
                self._start_slot(poll, target, ident, slot, now)
            every, phase = _timing(target)
            later.append(((slot + 1) * every - phase, n))
        for item in later:
            heapq.heappush(self.heap, item)
        self._grow()
        wait = min(REFRESH_SECONDS, self.heap[0][0] - now) if self.heap else REFRESH_SECONDS
        return max(0.0, wait)

    def _start_slot(self, poll: Poll, target: Target, ident: tuple[str, str], slot: int | None, now: float) -> None:
        """Queue a due target (`slot` None: wanted now) on its lane, unless it is running here, waiting out its
        back-off, or another dispatcher took the slot's lease or still holds the target (its poll of an earlier slot
        runs on; wanted now, its holder polls it once more when that poll ends). The lane is the one the lease
        store's record says as the lease is taken: a target any dispatcher saw slow is on the slow lane for all, and
        back on the healthy lane for all once a poll of it went well."""
        not_before = retry_at(poll.name, target.key)
        with self.lock:
            busy = ident in self.running
        if (busy and slot is not None) or (not_before is not None and now < not_before):
            return
        try:
            taken = self.leases.take(poll.name, target.key, slot, ttl=target.every * 4, owner=self.owner)
        except Exception as exc:
            if not broker_down(exc):
                raise
            _lease_outage.failed(exc)  # this slot is skipped; the next one asks again
            return
        _lease_outage.ok()  # only an answer says it is back: most ticks do not reach the lease store
        if taken is not None:
            self._queue(poll, target, ident, taken)

    def _queue(self, poll: Poll, target: Target, ident: tuple[str, str], lease: Lease) -> None:
        with self.lock:
            self.running[ident] += 1
        (self.todo if lease.lane is None else self.slow_todo).put((poll, target, ident, lease.lane))

    def _start_wanted(self, idents: Iterable[tuple[str, str]]) -> None:
        """Start the targets wanted now (a push named their shop), outside their slots."""
        now = clock.now().timestamp()
        for ident in dict.fromkeys(idents):  # a burst of pushes for one shop: one start
            found = self.by_ident.get(ident)
            if found is not None:  # not a target (now): nothing to read, or its regular poll reads it
                self._start_slot(*found, ident, None, now)

    def _renew(self) -> None:
        """Keep the leases of the targets queued or running here (a poll may take longer than RUN_SECONDS)."""
        with self.lock:
            idents = list(self.running)
        try:
            self.leases.renew(idents, self.owner)
        except Exception as exc:  # the lease store is down: nobody takes them meanwhile either
            _lease_failed(exc, "poll leases not renewed")

    def loop(self, stop: threading.Event) -> None:
        """The worker's poll loop, on a thread of its own: it wakes for each slot boundary, while the job dispatcher
        (core.jobs.dispatcher_loop) reads the job table at its own pace, not ~33 times a second."""
        from django.db import close_old_connections

        while not stop.is_set():
            wait = 1.0
            try:
                wait = min(1.0, self.tick())
                self._start_wanted(self.leases.wait(wait))  # the wait ends early when a target is wanted now
            except Exception as exc:  # lease store or hub unreachable: log, wait, go on
                if broker_down(exc):
                    _lease_outage.failed(exc)
                else:
                    log.exception("routine polls: tick failed")
                close_old_connections()
                stop.wait(max(wait, 0.005))

    def _work(self, lane: Lane) -> None:
        name, healthy = threading.current_thread().name, lane is self.lane
        while True:
            try:
                poll, target, ident, on_lane = lane.todo.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                with self.lock:  # nothing to do for a while: a thread added for a backlog ends
                    if lane.size > lane.base:
                        lane.size -= 1
                    if self._leaves(lane):
                        return
                continue
            started, ok = time.monotonic(), False
            with self.lock:
                lane.busy += 1
                if healthy:
                    self.busy_since[name] = started
            try:
                ok = run_once(poll, target)
            except Exception:  # recording the health failed (hub locked): the next slot tries again
                log.exception("poll %s of %s: health not recorded", poll.name, target.key)
            finally:
                took = time.monotonic() - started
                slow = not ok or took > SLOW_SECONDS
                if slow or on_lane is not None:  # recorded before the lease lets the target go again
                    self._note_lane(target, ident, slow, took, ok, on_lane)
                again = self._release(ident)  # wanted now while it ran: it may have read just before that
                if again is not None:
                    self._queue(poll, target, ident, again)
                with self.lock:
                    lane.busy -= 1
                    self.running[ident] -= 1
                    if self.running[ident] <= 0:
                        del self.running[ident]
                    if healthy:
                        self.busy_since.pop(name, None)
                        self.relieved.discard(name)
                    leave = self._leaves(lane)
                connections.close_all()  # this thread's own connections; the next poll opens fresh ones
            if leave:
                return

    def _leaves(self, lane: Lane) -> bool:
        """Whether the calling thread ends: its lane has more threads than its size (a replaced stuck thread, or its
        replacement, once the stuck poll is over; one added for a backlog that is gone). The caller holds self.lock."""
        leave = lane.alive - (len(self.relieved) if lane is self.lane else 0) > lane.size
        if leave:
            lane.alive -= 1
        return leave

    def _note_lane(self, target: Target, ident: tuple[str, str], slow: bool, took: float, ok: bool,
                   on_lane: dict | None) -> None:
        """Keep the slow-lane record, which every dispatcher's leases read: a target that is (still) slow with its
        last poll (since when: kept from its record, across restarts too), one that left it (`on_lane`: its record
        when the lease was taken)."""
        name = "|".join(ident)
        try:
            if not slow:
                self.leases.set_slow(name, None)
                return
            since = float((on_lane or {}).get("since") or time.time())
            self.leases.set_slow(name, {"store": target.store_id, "since": since, "at": time.time(),
                                    "seconds": round(took, 3), "ok": ok})
        except Exception as exc:  # the lease store is scratch space: the page says less, polling goes on
            _lease_failed(exc, "poll %s of %s: slow lane not recorded", *ident)

    def _release(self, ident: tuple[str, str]) -> Lease | None:
        """Let the target go; when it was wanted meanwhile, keep it and return its lease to poll it once more."""
        try:
            return self.leases.release(*ident, self.owner)
        except Exception as exc:  # it expires after RUN_SECONDS
            _lease_failed(exc, "poll %s of %s: lease not released", *ident)
            return None

    def idle(self) -> bool:
        with self.lock:
            return not self.running and self.todo.empty() and self.slow_todo.empty()
