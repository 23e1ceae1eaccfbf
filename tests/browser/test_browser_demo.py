"""The live demo in a real browser: settings change, a demo order confirmed by a sandbox customer, a manual cancel
with a reason, the overview in Turkish and Russian, no JavaScript errors; saves docs/screenshot-overview.png.

Runs the demo's own pieces (ocbridge.demo.setup: OpenCart 3.0 shop in SQLite, sandbox simulator, hub rows) against
pytest-django's live server; jobs run in this process between page loads, as `ocbridge worker` would run them.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshot-overview.png"
# README's pictures are re-taken only on request (OCBRIDGE_SCREENSHOTS=1, then shrink them with pngquant/optipng):
# an ordinary test run must not rewrite tracked files.
TAKE_SCREENSHOTS = os.environ.get("OCBRIDGE_SCREENSHOTS") == "1"


@pytest.fixture
def demo(tmp_path, live_server, settings):
    from ocbridge.demo.setup import DemoSetup

    settings.PUBLIC_URL = live_server.url  # the simulator's webhooks reach the live server
    d = DemoSetup(data_dir=tmp_path, port=0, speed=2000)
    sim_url = d.start_simulator()
    d.shop_url = d.ensure_shop(orders=40)
    d.store = d.ensure_store(d.shop_url, sim_url)
    yield d
    d.stop()


def poll(demo) -> None:
    """One shop poll now, in this process (the worker polls once per interval; a test cannot wait for the next)."""
    from ocbridge.core.polls import run_all

    run_all("opencart.shop")


def pump(demo, rounds: int = 6) -> None:
    """What the worker does: poll the shop, run due jobs, let the simulator's webhooks arrive; until quiet."""
    from ocbridge.core.jobs import run_until_idle

    for _ in range(rounds):
        poll(demo)
        ran = run_until_idle()
        demo.sim.webhooks.flush()
        demo.sim.wait_idle(5)
        time.sleep(0.05)
        if not ran and not run_until_idle():
            break


def place(demo, *, customer: str) -> int:
    from ocbridge.opencart import seed

    demo.sim.set_odds(call={customer: 1.0}, sms_reply={"null": 1.0})
    return seed.place_order(demo.shop_url, version="3.0", rng=random.Random(len(customer)))


def add_history(store, days: int = 30, per_day: int = 25) -> None:
    """A month of past confirmations (not in the shop) so the overview's charts have something to show."""
    from ocbridge.core import clock
    from ocbridge.integrations.cod_confirm.models import Attempt, Confirmation

    rng = random.Random(4)
    integ = store.integrations.get(kind="cod_confirm")
    now = clock.now()
    states = ["confirmed"] * 11 + ["cancelled"] * 3 + ["expired"] * 2 + ["needs_person", "resolved_in_shop"]
    confs, attempts = [], []
    for day in range(days):
        for k in range(per_day + rng.randint(-8, 8)):
            # Shop hours: 09:00–21:00 in Istanbul (UTC+3), never in the future.
            created = min(now - dt.timedelta(minutes=5), (now - dt.timedelta(days=day)).replace(
                hour=rng.randint(6, 17), minute=rng.randint(0, 59)))
            state = rng.choice(states)
            decided = created + dt.timedelta(minutes=rng.uniform(1, 40)) if state in ("confirmed", "cancelled") else None
            confs.append(Confirmation(store=store, integration=integ, order_id=900000 + day * 100 + k,
                                      order_label=str(900000 + day * 100 + k), status_at_start=1, state=state,
                                      created=created, decided_at=decided, phone="+905321110000", currency="TRY"))
    Confirmation.objects.bulk_create(confs)
    for c in Confirmation.objects.filter(order_id__gte=900000):
        channel = "sms" if rng.random() < 0.2 else "call"
        answered = c.state in ("confirmed", "cancelled", "needs_person")
        attempts.append(Attempt(confirmation=c, store=store, number=1, channel=channel, service="sandbox",
                                key=f"h:{c.pk}", state="answered" if answered else "no_answer", created=c.created))
    Attempt.objects.bulk_create(attempts)
    add_outcomes_and_prices(store, rng)


def add_outcomes_and_prices(store, rng) -> None:
    """What became of those orders in the shop (delivered / refused, by how they were confirmed) and the owner's
    prices: the overview's returns-by-channel card and the cost rows have figures to show."""
    from ocbridge.core.models import SpendPolicy
    from ocbridge.integrations.cod_confirm.config import CodConfirmConfig
    from ocbridge.integrations.cod_confirm.models import Confirmation, OrderOutcome

    integ = store.integrations.get(kind="cod_confirm")
    cfg = CodConfirmConfig.from_settings(integ.settings)
    cfg.risk_refused_status_ids, cfg.risk_delivered_status_ids = [13], [5]
    integ.settings = cfg.to_settings()
    integ.save()
    SpendPolicy.objects.update_or_create(store=store, defaults={"prices": {"sandbox": {"call": "0.40", "sms": "0.06"}}})
    rows = []
    shipped = ["confirmed", "expired", "resolved_in_shop"]  # cancelled ones never went out
    for c in Confirmation.objects.filter(order_id__gte=900000, state__in=shipped):
        via = "" if c.state != "confirmed" else ("sms" if rng.random() < 0.25 else "call")
        refused = rng.random() < (0.06 if via else 0.3)
        rows.append(OrderOutcome(store=store, order_id=c.order_id, confirmation=c, phone=c.phone,
                                 outcome="refused" if refused else "delivered", status_id=13 if refused else 5,
                                 history_id=c.order_id, confirmed_via=via, happened_at=c.created,
                                 created=c.created, updated=c.created))
    OrderOutcome.objects.bulk_create(rows)


def test_demo_order_confirmed_manual_cancel_translations_and_screenshot(logged_in, demo):
    from ocbridge import opencart
    from ocbridge.core.models import AuditEntry, Integration
    from ocbridge.integrations.cod_confirm.models import Confirmation

    page = logged_in
    store = demo.store

    # 1. Change a setting: the return-shipping cost behind "money saved".
    page.goto(page.base + f"/stores/{store.pk}/integrations/cod_confirm/")
    page.fill("input[name=return_shipping_cost]", "90")
    page.click("form.form button[type=submit].primary")
    page.wait_for_selector(".msg-success")
    settings = Integration.objects.get(store=store, kind="cod_confirm").settings
    assert str(settings["return_shipping_cost"]) in ("90", "90.00")

    # 2. A new demo order; the sandbox customer presses 1. Watch it on the confirmations page.
    oid = place(demo, customer="confirm")
    from ocbridge.core.jobs import run_until_idle

    poll(demo)
    run_until_idle()  # the poll finds it and the call goes out; the customer's answer is still on its way
    page.goto(page.base + "/confirmations/")
    row = page.locator("table.list tbody tr", has_text=str(oid))
    assert row.count() == 1
    pump(demo)
    page.reload()
    row = page.locator("table.list tbody tr", has_text=str(oid))
    assert "Confirmed" in row.inner_text()
    c = Confirmation.objects.get(store=store, order_id=oid)
    assert c.state == "confirmed"
    assert opencart.order_status(store, oid) == 2  # Processing, written to the shop

    # 3. A customer who never answers: a person cancels, with a reason.
    oid2 = place(demo, customer="no_answer")
    pump(demo)
    c2 = Confirmation.objects.get(store=store, order_id=oid2)
    assert c2.state in ("no_answer", "calling", "sms_sent")
    page.on("dialog", lambda d: d.accept())
    page.goto(page.base + f"/confirmations/{c2.pk}/")
    page.select_option("select[name=action]", "cancel")
    page.click("form[action$='/act/'] button[type=submit]")
    # No reason: the browser refuses to send the form (required field), so nothing happens.
    assert page.locator("input[name=reason]").evaluate("e => e.validity.valueMissing")
    assert Confirmation.objects.get(pk=c2.pk).state == c2.state
    page.select_option("select[name=action]", "cancel")
    page.fill("input[name=reason]", "customer phoned the shop to cancel")
    page.click("form[action$='/act/'] button[type=submit]")
    page.wait_for_selector(".msg-success")
    c2.refresh_from_db()
    assert c2.state == "cancelled" and c2.decided_by == "person"
    assert AuditEntry.objects.get(action="cod_confirm.cancel").reason == "customer phoned the shop to cancel"
    pump(demo)
    assert opencart.order_status(store, oid2) == 7  # Canceled in the shop
    page.reload()
    assert "customer phoned the shop to cancel" in page.locator("ol.timeline").inner_text()

    # 4. The overview with a month of history, in English (screenshot), Turkish and Russian.
    add_history(store)
    page.set_viewport_size({"width": 1280, "height": 1400})
    page.goto(page.base + "/")
    assert "Median time to confirm" in page.content()
    assert page.locator("svg.chart").count() >= 4
    assert "Returns: confirmed vs not confirmed" in page.content() and "Cost per confirmed order" in page.content()
    shot = page.screenshot(full_page=True)
    assert shot.startswith(b"\x89PNG")
    if TAKE_SCREENSHOTS:
        SCREENSHOT.write_bytes(shot)
    for lang, words in (("tr", ["Genel bakış", "Günlük sonuçlar", "Onay oranı", "₺"]),
                        ("ru", ["Обзор", "Исходы по дням", "Доля подтверждённых", "₺"])):
        page.select_option("#lang-select", lang)
        page.wait_for_function(f"document.documentElement.lang === '{lang}'")
        html = page.content()
        for word in words:
            assert word in html, (lang, word)
        page.goto(page.base + f"/confirmations/{c2.pk}/")
        assert page.locator("h1").count() == 1
        page.goto(page.base + "/")
    page.select_option("#lang-select", "en")
    page.wait_for_function("document.documentElement.lang === 'en'")
    assert page.errors == []
