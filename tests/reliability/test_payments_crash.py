"""Payment crash run: captures and refunds through real `ocbridge worker` processes that are SIGKILLed mid-operation.

APS (simulator) carries each maintenance command out at once and holds its answer a moment, so a worker killed
then has made the refund or capture but never heard of it — the case "never re-sent blind" exists for. Between
kills, answers are lost outright (5xx after acting) and one answer says "on hold". Afterwards, for every payment:
APS's captured and refunded totals equal what was asked, each operation reached APS exactly once (one request per
maintenance reference), every operation is done, and the shop's history has one comment per operation.
A worker killed after it began an operation but before its request reached APS leaves it "sending": once the dead
run's claim has ended, the next run asks APS and, told it never arrived, sends it with the same maintenance reference.
Sizes: CI (unmarked, 16 payments, 6 kills) and full (`make soak`: 120 payments, 40 kills).
A worker frozen (SIGSTOP: a VM or GC pause) after it began a refund and before its request left, whose claim ran out
and was taken over, must not send when it wakes: APS gets the refund once, from the worker that took it over.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa

from paykit import aps_bed  # noqa: F401  (fixture)
from reliability.harness import SOAK, Patience, WorkerPool, hub_env, process_of
from testkit import PYTHON, wait_until, worker_env

pytestmark = pytest.mark.django_db(transaction=True)

# (payments, kills, seconds without progress and seconds in all before a run counts as hung: harness.Patience)
SIZES = [pytest.param((16, 6, 120, 600), id="ci"),
         pytest.param((120, 40, 600, 7200), id="full", marks=[pytest.mark.slow,
                                                              pytest.mark.skipif(not SOAK, reason="full run: make soak")])]


class Killer(threading.Thread):
    """Kills the worker holding a running payments.operate job while APS holds its answer; restarts it."""

    def __init__(self, pool: WorkerPool, kills: int, rng: random.Random):
        super().__init__(name="payment-chaos", daemon=True)
        self.pool, self.kills, self.rng = pool, kills, rng
        self.counts: Counter = Counter()
        self.stop_event = threading.Event()

    def run(self) -> None:
        from django.db import connections

        from ocbridge.core.models import Job

        try:
            while self.counts["kills"] < self.kills and not self.stop_event.is_set():
                self.stop_event.wait(self.rng.uniform(0.05, 0.3))
                holders = self.pool.holders()
                running = Job.objects.filter(state="running", kind="payments.operate").values_list("claimed_by", flat=True)
                for claimed in running:
                    slot = holders.get(process_of(claimed))
                    if slot is not None:
                        self.pool.kill(slot)
                        self.counts["kills"] += 1
                        self.counts["kills_mid_operation"] += 1
                        break
        finally:
            connections.close_all()


def _drive(pool: WorkerPool, done, patience: Patience, busy) -> dict:
    """Let the workers finish; when nothing is due or running, move the shared clock (claims of killed workers
    expire, deferred status checks come due)."""
    from django.db import close_old_connections

    from ocbridge.core import clock
    from ocbridge.core.models import Job
    from ocbridge.integrations.payments.models import PaymentOperation

    moved, quiet, hung = 0.0, 0, ""
    while not hung:
        if not busy():
            pool.ensure_running()
        close_old_connections()
        hung = patience.hung((Job.objects.filter(state="done").count(),
                              Counter(PaymentOperation.objects.values_list("state", flat=True))))
        active = Job.objects.filter(state__in=["queued", "running"])
        live = set(pool.holders())
        running_live = sum(1 for h in active.filter(state="running").values_list("claimed_by", flat=True)
                           if process_of(h) in live)
        due = active.filter(state="queued", next_run_at__lte=clock.now()).exists()
        if done() and not active.exists() and not busy():
            quiet += 1
            if quiet >= 3:
                return {"clock_moved_s": round(moved)}
        else:
            quiet = 0
        if not due and not running_live and not busy() and active.exists():
            clock.travel(125.0)  # past a dead worker's claim and the first deferred status checks
            moved += 125.0
        time.sleep(0.2)
    raise AssertionError(f"payment run did not settle, {hung} (busy={busy()}, clock moved {moved} s)\n{_snapshot(pool)}\n"
                         f"{pool.crashed_logs()}")


def _snapshot(pool: WorkerPool) -> str:
    """What was left open when a run did not settle: the operations, their outbox rows and the active jobs."""
    from ocbridge.core import clock
    from ocbridge.core.models import Job, SideEffect
    from ocbridge.integrations.payments.models import OperationState, PaymentOperation

    live = set(pool.holders())
    lines = [f"now {clock.now().isoformat()} db {clock.db_time().isoformat()} live workers {sorted(live)}"]
    effects = dict(SideEffect.objects.values_list("key", "state"))
    for op in PaymentOperation.objects.filter(state__in=[OperationState.REQUESTED, OperationState.UNKNOWN]):
        lines.append(f"op {op.pk} {op.key} {op.state} outbox={effects.get(op.key)} msg={op.gateway_message!r}")
    for j in Job.objects.exclude(state="done").order_by("pk"):
        lines.append(f"job {j.pk} {j.kind} {j.key} {j.state} attempts={j.attempts} by={j.claimed_by} "
                     f"live={process_of(j.claimed_by) in live if j.claimed_by else '-'} expires={j.claim_expires_at} "
                     f"next={j.next_run_at} dispatched={j.dispatched_at} err={(j.last_error or '').strip()[-160:]!r}")
    return "\n".join(lines)


@pytest.mark.parametrize("size", SIZES)
def test_killed_workers_never_capture_or_refund_twice(opencart_db, live_server, settings, tmp_path, size, capsys):
    from huey.contrib.djhuey import HUEY

    from ocbridge.core.models import Connection, Integration, Store
    from ocbridge.integrations.payments import links, operations
    from ocbridge.integrations.payments.models import OperationState, Payment, PaymentOperation
    from ocbridge.simulators.aps import ApsSimulator

    payments_n, kills, stall, cap = size
    settings.PUBLIC_URL = live_server.url
    settings.SIMULATOR_HOSTS = ["127.0.0.1"]
    HUEY.flush()
    shop = opencart_db("3.0")
    sim = ApsSimulator(speed=1000, timeout_fault_seconds=1.0)
    sim.start()
    store = Store.objects.create(name="Crash", db_url=shop.url, table_prefix=shop.prefix, timezone="UTC", currency="AED")
    conn = Connection.objects.create(store=store, service="aps", base_url=sim.base_url, secret={
        "merchant_identifier": "MxvOupuG", "access_code": "SILgpo7pWbmzuURp2qri", "sha_request_phrase": "PASS",
        "sha_response_phrase": "RESP"})
    integration = Integration.objects.create(store=store, kind="aps", connection=conn, settings={
        "command": "PURCHASE", "paid_status_id": 2})
    sim.configure(feedback_url=conn.webhook_url("feedback"), notification_url=conn.webhook_url("notification"))
    pool = WorkerPool(hub_env(live_server.url, OCBRIDGE_SIMULATOR_HOSTS="127.0.0.1"), 2, tmp_path / "workers", threads=3)
    rng = random.Random(20)
    started = time.monotonic()
    try:
        # orders and their payments: half purchases, half authorisations (captured in two parts)
        md = sa.MetaData()
        md.reflect(shop.engine, only=[f"{shop.prefix}order", f"{shop.prefix}order_history"])
        from ocbridge.opencart.reference import complete_row

        order_t, hist_t = md.tables[f"{shop.prefix}order"], md.tables[f"{shop.prefix}order_history"]
        ids = list(range(801, 801 + payments_n))
        with shop.engine.begin() as c:
            c.execute(sa.insert(order_t), [complete_row(order_t, {
                "order_id": i, "store_id": 0, "order_status_id": 1, "total": 40, "currency_code": "AED",
                "currency_value": 1, "language_id": 1, "email": "x@example.com", "custom_field": "[]",
                "payment_method": "Card", "payment_code": "ocbridge"}) for i in ids])
            c.execute(sa.insert(hist_t), [complete_row(hist_t, {"order_id": i, "order_status_id": 1, "notify": 0,
                                                                 "comment": ""}) for i in ids])
        pays = []
        for i in ids:
            integration.settings = {**integration.settings, "command": "AUTHORIZATION" if i % 2 else "PURCHASE"}
            integration.save()
            p = links.new_payment(integration, order_id=i, amount="40.00", currency="AED")
            sim.pay({"command": p.command, "merchant_reference": p.reference, "amount": str(p.amount_minor),
                     "currency": "AED"})
            pays.append(p)
        pool.start()
        _drive(pool, lambda: not Payment.objects.filter(state__in=["created", "pending"]).exists(),
               Patience(stall, cap), lambda: False)
        # operations, each asked twice (a double click): captures of the authorisations, refunds of the rest
        sim.hold_answers(0.4)
        asked: dict[str, int] = {}
        for p in pays:
            p.refresh_from_db()
            op = "capture" if p.state == "authorised" else "refund"
            for seq, amount in ((1, 1500), (2, 1000)):
                for _ in range(2):
                    operations.request(p, op, amount, sequence=seq, reason="crash run", user="chaos")
            asked[p.reference] = 2500
        killer = Killer(pool, kills, rng)
        killer.start()
        for _ in range(3):  # answers lost outright while the killer works
            time.sleep(0.3)
            sim.fail_next("500", path="/FortAPI/paymentApi", after=True)
        sim.hold_next_maintenance()
        final = _drive(pool, lambda: not PaymentOperation.objects.filter(
            state__in=[OperationState.REQUESTED, OperationState.UNKNOWN]).exists(), Patience(stall, cap), killer.is_alive)
        killer.stop_event.set()
        killer.join(10)
        # the audit
        tx = sim.transactions()
        per_ref: Counter = Counter()
        for r in sim.requests("/FortAPI/paymentApi"):
            body = r.json() or {}
            if body.get("command") in ("CAPTURE", "REFUND"):
                per_ref[body.get("maintenance_reference")] += 1
        ops = PaymentOperation.objects.all()
        violations = []
        for p in pays:
            p.refresh_from_db()
            t = tx[p.reference]
            got = t["captured"] if p.command == "AUTHORIZATION" else t["refunded"]
            if got != asked[p.reference]:
                violations.append(f"{p.reference}: APS {'captured' if p.command == 'AUTHORIZATION' else 'refunded'} "
                                  f"{got}, asked {asked[p.reference]}")
        twice = [ref for ref, n in per_ref.items() if n > 1]
        not_done = ops.exclude(state=OperationState.DONE).count()
        with shop.engine.connect() as c:
            comments = c.execute(sa.select(sa.func.count()).select_from(hist_t).where(
                hist_t.c.comment.like("Refunded%") | hist_t.c.comment.like("Captured%"))).scalar()
        from ocbridge.core.models import SideEffect

        # killed after beginning but before the request reached APS: asked about, then sent (once) by the next run
        resent = SideEffect.objects.filter(kind="payment", error__contains="the provider does not have it").count()
        report = {"payments": len(pays), "operations": ops.count(), "asked_twice_each": True,
                  "resent_after_lost_run": resent,
                  "maintenance_requests": sum(per_ref.values()), "sent_twice": len(twice), "not_done": not_done,
                  "history_comments": comments, "seconds": round(time.monotonic() - started), **killer.counts, **final}
        with capsys.disabled():
            print("\npayment crash run:", report)
        assert not violations, violations
        assert not twice, f"maintenance references sent more than once: {twice[:5]}"
        assert not_done == 0 and ops.count() == 2 * len(pays)
        assert comments == ops.count()
        assert killer.counts["kills"] >= kills
    finally:
        pool.stop()
        sim.stop()


# One job run in its own process, as a worker thread runs it (core.jobs.run_job: claim, heartbeat, the kind's run),
# stopping itself with SIGSTOP right after the outbox row went "sending", before the request (core.outbox.send_hook).
FROZEN_RUN = """
import os, signal, sys
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ocbridge.settings")
django.setup()
from ocbridge.core import outbox
from ocbridge.core.jobs import run_job

def freeze(effect):
    open(sys.argv[2], "w").write(effect.key)
    os.kill(os.getpid(), signal.SIGSTOP)

outbox.send_hook = freeze
job = run_job(int(sys.argv[1]))
print(job.state if job is not None else "not claimed")
"""


def _stopped(pid: int) -> bool:
    """The process is stopped by a signal (state T in /proc)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "T"


def test_a_worker_frozen_between_beginning_a_refund_and_sending_it_never_sends_it_when_it_wakes(aps_bed, tmp_path):
    from ocbridge.core import clock
    from ocbridge.core.jobs import JobKind
    from ocbridge.core.models import Job, SideEffect
    from ocbridge.integrations.payments import links, operations
    from ocbridge.integrations.payments.models import OperationState

    bed = aps_bed("3.0")
    bed.add_order(520)
    payment = links.new_payment(bed.integration, order_id=520, amount="20.00", currency="AED",
                                email="layla@example.com", language="en")
    bed.customer_pays(links.url_for(payment))
    bed.settle()
    payment.refresh_from_db()
    op = operations.request(payment, "refund", 700, sequence=1, reason="late delivery", user="owner")
    job = Job.objects.get(kind="payments.operate", key=op.key)
    env = worker_env(OCBRIDGE_SIMULATOR_HOSTS="127.0.0.1", OCBRIDGE_PUBLIC_URL=bed.hub, OCBRIDGE_LOG_LEVEL="ERROR")

    def refunds():
        return [r for r in bed.sim.requests("/FortAPI/paymentApi") if (r.json() or {}).get("command") == "REFUND"]

    marker = tmp_path / "frozen"
    frozen = subprocess.Popen([PYTHON, "-c", FROZEN_RUN, str(job.pk), str(marker)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, start_new_session=True)
    pool = WorkerPool(env, 1, tmp_path / "workers", threads=1)
    try:
        wait_until(lambda: marker.exists() and _stopped(frozen.pid), "the run frozen before sending",
                   died=lambda: f"it exited: {frozen.stderr.read()[-3000:]}" if frozen.poll() is not None else "")
        effect = SideEffect.objects.get(key=op.key)
        assert effect.state == "sending" and not refunds()
        clock.travel(JobKind.claim_seconds + 1)  # the frozen run's heartbeat is frozen too: its claim runs out
        pool.start()  # another worker: requeues the job, asks APS (never arrived), sends it
        pool.wait_for(lambda: Job.objects.filter(key__startswith=op.key, state="done").count() == 2,
                      "the other worker refunding and writing the shop's comment")
        assert len(refunds()) == 1
    finally:
        os.kill(frozen.pid, signal.SIGCONT)
        pool.stop()
    out, err = frozen.communicate(timeout=60)  # woken, the stale run reaches its last check before sending
    assert frozen.returncode == 0, err[-3000:]
    effect.refresh_from_db(), op.refresh_from_db(), payment.refresh_from_db()
    assert len(refunds()) == 1, "the woken run sent the refund again"
    assert refunds()[0].json()["maintenance_reference"] == str(effect.correlation)
    assert bed.sim.transactions()[payment.reference]["refunded"] == 700
    assert effect.state == "sent" and "stopped before sending, nothing sent" in effect.late  # the late run, said
    assert op.state == OperationState.DONE and payment.refunded_minor == 700
    assert len([c for _s, c in bed.history(520) if c.startswith("Refunded")]) == 1
    assert Job.objects.get(pk=job.pk).attempts == 2
