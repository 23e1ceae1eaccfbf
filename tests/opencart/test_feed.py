"""The shared order feed (opencart.feed): one read per shop, one cursor per integration, nothing lost when a
feature is switched off and on or fails, status-0 orders found later by the history feed, idle polls write nothing."""

import datetime as dt

import pytest
import sqlalchemy as sa

from ocbridge.core import clock, registry
from ocbridge.core.models import Integration
from ocbridge.opencart import feed, orders as oc_orders
from ocbridge.opencart.models import FeedCursor, PollState

from opencart.opencart_helpers import add_order, set_status
from opencart.writes_helpers import make_store

pytestmark = pytest.mark.django_db

SEEN: dict[str, list] = {"a": [], "b": [], "a_missed": [], "a_history": [], "b_history": []}
BROKEN: set[str] = set()


@registry.register_order_consumer("test_feed_a")
def _a(integration, order):
    if "a" in BROKEN:
        raise RuntimeError("a bug in feature a")
    SEEN["a"].append(order.order_id)


@registry.register_missed_orders("test_feed_a")
def _a_missed(integration, order):
    SEEN["a_missed"].append(order.order_id)


@registry.register_order_consumer("test_feed_b")
def _b(integration, order):
    SEEN["b"].append(order.order_id)


@registry.register_history_consumer("test_feed_a")
def _a_history(integration, events, *, missed):
    SEEN["a_history"].extend((e.order_id, e.order_status_id, missed) for e in events)


@registry.register_history_consumer("test_feed_b")
def _b_history(integration, events, *, missed):
    SEEN["b_history"].extend((e.order_id, e.order_status_id, missed) for e in events)


@pytest.fixture
def bed(opencart_db):
    for v in SEEN.values():
        v.clear()
    BROKEN.clear()
    h = opencart_db("3.0")
    add_order(h, 1)
    store = make_store(h)
    a = Integration.objects.create(store=store, kind="test_feed_a")
    b = Integration.objects.create(store=store, kind="test_feed_b")
    key = feed.shop_key(store)
    feed.poll_shop(key)  # first poll: positions start at the shop's newest order and history row
    return h, store, a, b, key


def add_history(h, order_id, status):
    with h.engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO oc_order_history (order_id, order_status_id, notify, comment, date_added) "
                             "VALUES (:o, :s, 0, '', NOW())"), {"o": order_id, "s": status})
    set_status(h, order_id, status)


def test_one_read_each_integration_its_own_orders_and_history(bed):
    h, store, a, b, key = bed
    assert SEEN["a"] == SEEN["b"] == []  # the shop's past is not replayed
    add_order(h, 2)
    add_order(h, 3, store_id=1)  # another store on the same shop: not these integrations'
    add_history(h, 2, 2)
    feed.poll_shop(key)
    assert SEEN["a"] == SEEN["b"] == [2]
    assert SEEN["a_history"] == SEEN["b_history"] == [(2, 2, False)]
    cursors = {c.integration_id: c for c in FeedCursor.objects.all()}
    assert cursors[a.pk].last_order_id == cursors[b.pk].last_order_id == 3


def test_an_idle_poll_writes_nothing(bed):
    h, store, a, b, key = bed
    add_order(h, 2)
    feed.poll_shop(key)
    before = ([(c.pk, c.updated) for c in FeedCursor.objects.order_by("pk")],
              PollState.objects.values_list("updated", flat=True).get())
    clock.travel(60)
    feed.poll_shop(key)
    feed.poll_shop(key)
    after = ([(c.pk, c.updated) for c in FeedCursor.objects.order_by("pk")],
             PollState.objects.values_list("updated", flat=True).get())
    assert before == after


def test_a_status_written_to_the_shop_is_read_back_once_then_the_polls_write_nothing(bed):
    """What the agency bench's idle window once counted (2 writes over 2,294 polls, a cursor and a shop position): a
    decision written to the shop just before the window, read back by that shop's next poll inside it. That poll
    found an order_history row — the shop changed — and moves the history consumers' cursors and the shop's
    position; the polls after it find nothing and write nothing (bench/agency.py now waits for that read-back)."""
    from testkit import HubWrites

    h, store, a, b, key = bed
    add_order(h, 2)
    feed.poll_shop(key)
    add_history(h, 2, 5)  # as the hub's status write leaves the shop: one order_history row
    with HubWrites() as w:
        found = feed.poll_shop(key)
    assert found.events == 2 and found.orders == 0  # the row, handed to both history consumers: found, not idle
    assert sorted(sql.split('"')[1] for sql in w.sql) == ["opencart_feedcursor", "opencart_feedcursor",
                                                          "opencart_pollstate"]
    for _ in range(3):
        clock.travel(15)
        with HubWrites() as w:
            quiet = feed.poll_shop(key)
        assert w.sql == [] and (quiet.events, quiet.orders, quiet.new_orders) == (0, 0, [])


@pytest.mark.parametrize("others_run", [True, False])
def test_switched_off_then_on_gets_what_arrived_meanwhile_as_missed(bed, others_run):
    """The same result whatever else runs: with feature b on, and with nothing else on."""
    h, store, a, b, key = bed
    Integration.objects.filter(pk=a.pk).update(enabled=False)
    if not others_run:
        Integration.objects.filter(pk=b.pk).update(enabled=False)
    feed.poll_shop(key)
    add_order(h, 2)
    add_history(h, 2, 2)
    feed.poll_shop(key)
    assert SEEN["a"] == [] and SEEN["b"] == ([2] if others_run else [])
    Integration.objects.filter(pk=a.pk).update(enabled=True)
    add_order(h, 3)
    feed.poll_shop(key)
    assert SEEN["a_missed"] == [2] and SEEN["a"] == [3]  # 2 arrived while off; 3 is new
    assert (2, 2, True) in SEEN["a_history"]
    feed.poll_shop(key)
    assert SEEN["a_missed"] == [2] and SEEN["a"] == [3]  # once


def test_a_failing_feature_keeps_its_cursor_and_holds_back_no_other(bed):
    h, store, a, b, key = bed
    BROKEN.add("a")
    add_order(h, 2)
    feed.poll_shop(key)
    assert SEEN["b"] == [2] and SEEN["a"] == []
    BROKEN.clear()
    add_order(h, 3)
    feed.poll_shop(key)
    assert sorted(SEEN["a"]) == [2, 3] and SEEN["a_missed"] == []  # retried as new, not as "missed"
    assert SEEN["b"] == [2, 3]


def test_status_zero_beyond_24h_is_found_by_the_history_feed(bed):
    h, store, a, b, key = bed
    add_order(h, 2, status=0)
    feed.poll_shop(key)
    assert "2" in PollState.objects.get().pending_zero
    clock.travel(dt.timedelta(hours=25).total_seconds())
    feed.poll_shop(key)
    assert "2" not in PollState.objects.get().pending_zero  # no longer followed by primary key…
    add_history(h, 2, 1)  # …the payment came late: OpenCart's model wrote the history row
    feed.poll_shop(key)
    assert (2, 1, False) in SEEN["a_history"]


def test_status_zero_overflow_is_counted_not_silent(bed, monkeypatch):
    h, store, a, b, key = bed
    monkeypatch.setattr(oc_orders, "MAX_PENDING", 2)
    for oid in (2, 3, 4, 5):
        add_order(h, oid, status=0)
    feed.poll_shop(key)
    state = PollState.objects.get()
    assert len(state.pending_zero) == 2 and state.unfollowed_zero == 2



@pytest.mark.django_db(transaction=True)
def test_status_zero_overflow_is_warned_once_a_poll_however_often_its_save_finds_the_hub_locked(bed, monkeypatch,
                                                                                                caplog):
    """The read position's save is tried again while the hub is locked (_locked_retry): the overflow warning was
    logged on each try (three here); now once, after the save, with the count saved once."""
    import logging

    from django.db import OperationalError

    h, store, a, b, key = bed
    monkeypatch.setattr(oc_orders, "MAX_PENDING", 2)
    monkeypatch.setattr(feed, "LOCKED_PAUSE", (0.0, 0.0))
    for oid in (2, 3, 4, 5):
        add_order(h, oid, status=0)
    real, locked = feed._move, [2]

    def move(row, **fields):
        if isinstance(row, PollState) and "pending_zero" in fields and locked[0]:
            locked[0] -= 1
            raise OperationalError("database is locked")
        return real(row, **fields)

    monkeypatch.setattr(feed, "_move", move)
    with caplog.at_level(logging.WARNING, logger="ocbridge.opencart.feed"):
        feed.poll_shop(key)
    assert locked == [0]  # the save found the hub locked twice, then went through
    overflow = [r for r in caplog.records if "status-0 orders beyond" in r.getMessage()]
    assert len(overflow) == 1 and "2 status-0 orders beyond the 2 followed" in overflow[0].getMessage()
    assert PollState.objects.get().unfollowed_zero == 2

# --- a poll killed part-way (SIGKILL: nothing after the kill point runs; committed transactions stay) -----------


class Killed(BaseException):
    """What SIGKILL does to a poll, in-process: it stops at once; a transaction open at that moment rolls back."""


def _handed(kind: str) -> list[int]:
    """Orders handed to `kind` in committed hub transactions (the handler writes a row in the handover's transaction)."""
    from ocbridge.core.models import AuditEntry

    return sorted(int(i) for i in AuditEntry.objects.filter(action="test.handed", user=kind)
                  .values_list("object_id", flat=True))


@pytest.fixture
def recording(bed, monkeypatch):
    """Both features record each order handed to them in the handover's own transaction; `kill_in(kind)` makes
    that feature's next handover die before its transaction commits."""
    from ocbridge.core.models import AuditEntry

    kill = []

    def consumer(kind):
        def handle(integration, order):
            AuditEntry.objects.create(user=kind, action="test.handed", object_id=str(order.order_id))
            if kill and kill[0] == kind:
                kill.clear()
                raise Killed(kind)
        return handle

    for kind in ("test_feed_a", "test_feed_b"):
        monkeypatch.setitem(registry.order_consumers, kind, consumer(kind))
    return kill


@pytest.mark.parametrize("where", ["in a's handover", "in b's handover, a's committed", "before the position moves"])
def test_a_poll_killed_midway_skips_nothing_and_hands_nothing_twice(bed, recording, monkeypatch, where):
    h, store, a, b, key = bed
    for oid in (2, 3, 4):
        add_order(h, oid)
    if where == "before the position moves":
        real = feed._save_state

        def killed(*args, **kwargs):
            monkeypatch.setattr(feed, "_save_state", real)
            raise Killed("save_state")

        monkeypatch.setattr(feed, "_save_state", killed)
    else:
        recording.append("test_feed_a" if where.startswith("in a") else "test_feed_b")
    with pytest.raises(Killed):
        feed.poll_shop(key)
    assert PollState.objects.get().last_order_id == 1  # the shop's position did not move past unfinished work
    add_order(h, 5)
    feed.poll_shop(key)  # the next poll (the next slot, any worker)
    feed.poll_shop(key)
    assert _handed("test_feed_a") == _handed("test_feed_b") == [2, 3, 4, 5]
    assert PollState.objects.get().last_order_id == 5


def test_a_status_zero_order_that_turns_up_while_a_poll_is_killed_is_not_lost(bed, recording):
    """The order was followed at status 0; it turns up; the poll dies after a's handover, before b's. b still gets
    it (a may get it again: handlers are idempotent by the feed's contract, their Jobs keyed per order)."""
    h, store, a, b, key = bed
    add_order(h, 2, status=0)
    feed.poll_shop(key)
    set_status(h, 2, 1)
    recording.append("test_feed_b")
    with pytest.raises(Killed):
        feed.poll_shop(key)
    feed.poll_shop(key)
    feed.poll_shop(key)
    assert _handed("test_feed_b") == [2] and set(_handed("test_feed_a")) == {2}
    assert "2" not in PollState.objects.get().pending_zero


def test_a_feature_failing_on_a_status_zero_order_that_turned_up_gets_it_next_poll(bed, recording):
    h, store, a, b, key = bed
    add_order(h, 2, status=0)
    feed.poll_shop(key)
    set_status(h, 2, 1)
    BROKEN.add("a")
    from ocbridge.core.registry import order_consumers

    real = order_consumers["test_feed_a"]

    def broken(integration, order):
        if "a" in BROKEN:
            raise RuntimeError("a bug in feature a")
        return real(integration, order)

    order_consumers["test_feed_a"] = broken
    try:
        feed.poll_shop(key)
        assert _handed("test_feed_a") == [] and _handed("test_feed_b") == [2]
        BROKEN.clear()
        feed.poll_shop(key)
    finally:
        order_consumers["test_feed_a"] = real
    assert _handed("test_feed_a") == [2]


def test_two_polls_of_one_shop_at_once_cannot_both_move_a_position(bed, recording):
    """A slow poll overlapping the next one: the one whose read went stale stops (Superseded), its handover rolled
    back with its cursor move."""
    h, store, a, b, key = bed
    add_order(h, 2)
    stale = FeedCursor.objects.get(integration=a)
    feed.poll_shop(key)  # the other poll hands order 2 over and moves the cursors
    with pytest.raises(feed.Superseded):
        feed._move(stale, last_order_id=2)
    assert _handed("test_feed_a") == [2]


# --- the hub's SQLite write lock held by another process past the busy timeout ----------------------------------

# Another process: takes the hub file's write lock, says so, holds it for argv[2] seconds, lets it go.
LOCK_HOLDER = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
print("held", flush=True)
time.sleep(float(sys.argv[2]))
db.execute("COMMIT")
"""


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("phone", ["", "0532 123 45 67"], ids=["handover first", "phone index first"])
def test_a_handover_that_finds_the_hub_locked_past_the_busy_timeout_completes_in_the_same_poll(bed, recording, caplog,
                                                                                             phone):
    """The agency soak on an overloaded machine (README, session 11): 13 handovers of new orders could not BEGIN
    within SQLite's busy timeout, each logged as an error and left to the next poll. Here another process holds the
    hub file's write lock three times the (shortened) busy timeout: the poll hands the order over once the lock is
    let go, one warning and no error, nothing handed twice."""
    import logging
    import subprocess
    import sys
    import time

    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("SQLite's write lock")
    h, store, a, b, key = bed
    add_order(h, 2, telephone=phone)  # without a number the phone index writes nothing: the handover's BEGIN is first
    holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, connection.settings_dict["NAME"], "1.5"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with connection.cursor() as cur:
            cur.execute("PRAGMA busy_timeout = 500")  # the test's busy timeout (the hub's: 20 s)
        started = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="ocbridge.opencart.feed"):
            found = feed.poll_shop(key)
        took = time.monotonic() - started
    finally:
        assert holder.wait(timeout=60) == 0
        with connection.cursor() as cur:
            cur.execute("PRAGMA busy_timeout = 20000")
    assert found.failed == [] and found.orders == 2  # both integrations took order 2 in this poll
    assert _handed("test_feed_a") == _handed("test_feed_b") == [2]
    assert took < 15  # a few jittered retries, not a poll interval
    locked = [r for r in caplog.records if "locked" in r.getMessage()]
    assert locked and {r.levelno for r in locked} == {logging.WARNING}
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert PollState.objects.get().last_order_id == 2
    feed.poll_shop(key)
    assert _handed("test_feed_a") == _handed("test_feed_b") == [2]  # nothing twice


def test_a_quiet_poll_sends_the_shop_one_statement_and_reads_nothing_from_the_hub(bed, django_assert_num_queries):
    h, store, a, b, key = bed
    add_order(h, 2, status=0)  # followed at status 0: the quiet poll asks about it in the same statement
    feed.poll_shop(key)
    statements = []

    def capture(conn, cursor, statement, *args):
        statements.append(statement)

    sa.event.listen(h.shop.engine, "before_cursor_execute", capture)
    try:
        with django_assert_num_queries(0):
            feed.poll_shop(key)
            feed.poll_shop(key)
        assert len(statements) == 2
        set_status(h, 2, 1)
        add_history(h, 1, 2)
        feed.poll_shop(key)
        feed.poll_shop(key)
    finally:
        sa.event.remove(h.shop.engine, "before_cursor_execute", capture)
    assert SEEN["a"] == SEEN["b"] == [2]
    assert SEEN["a_history"] == SEEN["b_history"] == [(1, 2, False)]


def test_a_poll_whose_memory_is_behind_another_workers_reads_the_hub_and_hands_nothing_twice(bed):
    h, store, a, b, key = bed
    feed.poll_shop(key)
    behind = dict(feed._quiet)  # what this process remembers
    add_order(h, 2)
    add_history(h, 2, 2)
    feed.poll_shop(key)  # another worker's poll of the same shop (any worker takes the next slot)
    feed._quiet.update(behind)
    add_order(h, 3)
    feed.poll_shop(key)
    feed.poll_shop(key)
    assert SEEN["a"] == SEEN["b"] == [2, 3]
    assert SEEN["a_history"] == [(2, 2, False)]


def test_an_integration_switched_off_between_quiet_polls_is_seen_by_the_next_one(bed):
    h, store, a, b, key = bed
    feed.poll_shop(key)
    feed.poll_shop(key)  # quiet
    a.enabled = False
    a.save()  # the dashboard (core.config_cache drops what the poll remembered)
    feed.poll_shop(key)
    assert FeedCursor.objects.get(integration=a).off is True
    add_order(h, 2)
    feed.poll_shop(key)
    feed.poll_shop(key)  # quiet again
    a.enabled = True
    a.save()
    feed.poll_shop(key)
    assert SEEN["a_missed"] == [2] and SEEN["b"] == [2] and SEEN["a"] == []
