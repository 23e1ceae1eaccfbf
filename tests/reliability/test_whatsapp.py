"""Crash suite with WhatsApp first: plan WhatsApp (the Cloud API simulator) → call → SMS (Sandbox), two `ocbridge
worker` processes SIGKILLed at chosen points, every webhook of both simulators delivered three times, late and
shuffled, WhatsApp sends whose answer is lost (Meta acted, the hub never heard: §2 no idempotency key).

Afterwards, besides the crash suite's audit (one outcome per order in OpenCart, no call/SMS twice, no 2xx-answered
webhook lost): no WhatsApp message was sent twice — per attempt key and per order — and no button tap was lost:
every tap the simulator delivered with a 2xx has its job done and its order decided as tapped.
"""

import time
from collections import Counter

import pytest

from ocbridge.core.models import Connection
from ocbridge.integrations.cod_confirm import plan, whatsapp
from reliability.chaos import Chaos, _wait
from reliability.conftest import SPEED
from reliability.harness import CI, add_orders, audit, drive_to_completion, random_for

pytestmark = pytest.mark.django_db(transaction=True)
SECRET = "wa-app-secret"
TAPPED = {"confirm": "confirmed", "cancel": "cancelled", "agent": "needs_person"}


class BothSims:
    """drive_to_completion waits for the webhooks of both simulators."""

    def __init__(self, *sims):
        self.sims = sims
        self.webhooks = self

    def pending(self) -> int:
        return sum(s.webhooks.pending() for s in self.sims)


class WhatsAppChaos(Chaos):
    """The crash suite's kill points plus WhatsApp's: a worker killed while it holds a WhatsApp event (a tap or a
    status) and sends whose answer is lost after Meta accepted them."""

    MODES = ("holding_attempt", "history_write", "random", "wa_event_holder", "wa_answer_lost")

    def run(self) -> None:
        import traceback

        from django.db import connections

        try:
            modes: list[str] = []
            while self.counts["kills"] < self.kills and not self.stop_event.is_set():
                if not modes:
                    modes = self.rng.sample(self.MODES, len(self.MODES))
                self.stop_event.wait(self.rng.uniform(*self.pause))
                getattr(self, "_" + modes.pop())()
        except Exception:
            self.error = traceback.format_exc()
        finally:
            connections.close_all()

    def _wa_event_holder(self) -> None:
        holders = _wait(lambda: self._running("cod_confirm.apply_whatsapp_event"), 2.0)
        if holders:
            self._kill_holder(self.rng.choice(holders), "wa_event_holder")

    def _wa_answer_lost(self) -> None:
        wa = self.bed.wa
        wa.fail_next("reset", path=f"/v25.0/{wa.phone_number_id}/messages", after=True)
        self.counts["wa_answers_lost"] += 1


def _whatsapp_first(bed):
    from ocbridge.core.jobs import run_until_idle
    from ocbridge.simulators.whatsapp import WhatsAppSimulator

    wa = WhatsAppSimulator(speed=SPEED, seed=13, app_secret=SECRET, timeout_fault_seconds=2.0)
    wa.start()
    conn = Connection.objects.create(store=bed.store, service="whatsapp", name="Meta", base_url=wa.base_url,
                                     secret={"access_token": "wa-token", "app_secret": SECRET, "verify_token": "v"},
                                     options={"phone_number_id": wa.phone_number_id, "waba_id": wa.waba_id})
    wa.set_webhook_url(conn.webhook_url("events"))
    plan.replace(bed.integration, [plan.Step("whatsapp", conn, 0, 30), plan.Step("call", bed.connection, 0, 15),
                                   plan.Step("sms", bed.connection, 30, 15)])
    whatsapp.create_templates(conn, "owner")
    wa.approve_all()
    wa.webhooks.wait_idle(5)
    run_until_idle()  # the templates' approval webhooks, before the workers start
    assert {s["status"] for s in whatsapp.template_states(conn).values()} == {"APPROVED"}
    bed.wa = wa
    return wa


def test_killed_workers_never_send_a_whatsapp_message_twice_or_lose_a_button_answer(reliability_bed, capsys):
    from ocbridge.integrations.cod_confirm.models import Attempt, Confirmation

    size = CI
    bed = reliability_bed(workers=size.workers, threads=size.threads)
    wa = _whatsapp_first(bed)
    try:
        for sim in (bed.sim, wa):
            sim.set_webhook_behaviour(duplicate=3, delay=60, shuffle=True, shuffle_window=120)
        started = time.monotonic()
        order_ids = add_orders(bed.shop, 5001, size.orders)
        bed.pool.start()
        chaos = WhatsAppChaos(bed, size.kills, random_for("crash-whatsapp"))
        chaos.start()
        final = drive_to_completion(BothSims(bed.sim, wa), bed.pool, size.orders, size.patience(),
                                    busy=chaos.is_alive)
        chaos.stop_event.set()
        chaos.join(10)
        result = audit(bed, order_ids)

        # no WhatsApp message twice: per attempt key (payloads carry it) and per order (one WhatsApp step)
        sent = wa.messages()
        per_key = Counter(m["payloads"][0].rpartition("#")[0] for m in sent if m["payloads"])
        for key, n in per_key.items():
            if n != 1:
                result.fail(f"{key}: {n} WhatsApp messages")
        per_order = Counter(key.split(":")[2] for key in per_key)
        for order, n in per_order.items():
            if n > 1:
                result.fail(f"order {order}: {n} WhatsApp messages")
        result.counts["wa_messages"] = len(sent)

        # no button answer lost: each tap delivered 2xx → its order decided as tapped
        by_key = {a.key: a for a in Attempt.objects.filter(store=bed.store, channel="whatsapp")
                  .select_related("confirmation")}
        taps = set()
        for w in wa.sent_webhooks("webhook"):
            if not w.ok:
                continue
            for entry in (w.json() or {}).get("entry", []):
                for change in entry.get("changes", []):
                    for m in change.get("value", {}).get("messages", []):
                        if m.get("type") != "button":
                            continue
                        key, _sep, action = m["button"]["payload"].rpartition("#")
                        attempt = by_key.get(key)
                        taps.add(m["id"])
                        if attempt is None:
                            result.fail(f"tap {m['id']} names an unknown attempt {key}")
                            continue
                        state = Confirmation.objects.get(pk=attempt.confirmation_id).state
                        if state != TAPPED[action]:
                            result.fail(f"order {attempt.confirmation.order_id}: tapped {action}, ended {state}")
        result.counts["wa_taps_2xx"] = len(taps)
        run = {"hub": bed.hub, "size": size.name, "seconds": round(time.monotonic() - started),
               "workers_spawned": bed.pool.spawned,
               **{k: v for k, v in final.items() if k in ("clock_moved_s", "stuck")}, **chaos.counts}
        with capsys.disabled():
            print("\n" + result.render(f"crash suite, WhatsApp first ({bed.hub}, {size.name})", run))
        assert not chaos.error, chaos.error
        assert not result.violations, result.render("crash suite (WhatsApp)", run) + "\n" + bed.pool.crashed_logs()
        assert chaos.counts["kills"] >= size.kills
        assert len(taps) > size.orders // 3 and len(sent) >= size.orders * 0.9  # WhatsApp really carried the run
    finally:
        wa.stop()
