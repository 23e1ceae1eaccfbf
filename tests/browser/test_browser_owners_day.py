"""The owner's day in real Chromium, one language per point: the "need you" box (bulk, live, outcomes), settings that
refuse absurd values, complete translations, tables, and one phone-width pass over every page."""

from decimal import Decimal
import os
from pathlib import Path

import pytest
from testkit import cod_integration

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PHONE = {"width": 390, "height": 844}
PHONE_SHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshot-phone-ru.png"
TAKE_SCREENSHOTS = os.environ.get("OCBRIDGE_SCREENSHOTS") == "1"  # see test_browser_demo.py


@pytest.fixture
def live_fast(settings):
    settings.LIVE_REFRESH_MS = 400  # live regions re-read the page every 0.4 s in these tests


@pytest.fixture
def shop(owner):
    from ocbridge.core.models import Connection, Exchange, Job, Store
    from ocbridge.integrations.cod_confirm.models import Confirmation, Transition

    store = Store.objects.create(name="Demo Shop", version="3.0", db_url="sqlite:////nonexistent/shop.db")
    conn = Connection.objects.create(store=store, service="sandbox", name="Sandbox", secret={"token": "t"})
    integ = cod_integration(store, conn)

    def case(n, state="needs_person", **kw):
        fields = {"customer_name": f"Müşteri {n}", "phone": "+905321234567", "status_at_start": 1, "currency": "TRY",
                  "total": Decimal(100 + n), "needs_person_reason": "attempts used up" if state == "needs_person" else ""}
        fields.update(kw)
        return Confirmation.objects.create(store=store, integration=integ, order_id=n, order_label=f"A-{n}",
                                           state=state, **fields)

    cases = [case(n) for n in (1, 2, 3)] + [case(n, "confirmed") for n in range(10, 70)]
    Transition.objects.create(confirmation=cases[0], from_state="new", to_state="scheduled",
                              reason="attempt 1 due 2026-12-06 09:30 UTC")
    Transition.objects.create(confirmation=cases[0], from_state="no_answer", to_state="needs_person",
                              reason="no answer after 3 attempts")
    job = Job.objects.create(kind="core.probe", key="b:1", store=store, state="failed",
                             last_error="Traceback (most recent call last):\n  File \"/srv/x.py\"\nValueError: boom")
    ex = Exchange.objects.create(service="sandbox", store=store, connection=conn, order_id=1, method="POST",
                                 url="https://sandbox/calls", status=401, level="error",
                                 response_body='{"error": "Incorrect API Key!"}')
    return {"store": store, "conn": conn, "integ": integ, "cases": cases, "case": case, "job": job, "ex": ex}


def test_need_you_box_bulk_decides_updates_live_and_shows_outcomes(logged_in, shop, live_fast):
    from ocbridge.core.jobs import run_job
    from ocbridge.core.models import AuditEntry, Job
    from ocbridge.core.probe import RunProbe

    page = logged_in
    shop["conn"].mark_error("sandbox: 401 Incorrect API Key!")
    page.goto(page.base + "/")
    box = page.locator("#need-you")
    assert "3 orders need you" in box.locator("h2").inner_text()
    assert "Incorrect API Key!" in box.inner_text()  # the provider's own words, readable
    page.evaluate("window.__notReloaded = true")
    shop["case"](4)  # a new order needs a person: the box says so without a reload
    page.wait_for_function("document.querySelector('#need-you h2').textContent.includes('4 orders need you')")
    assert page.evaluate("window.__notReloaded") is True

    page.locator("#need-you input[name=ids]").nth(0).check()
    page.locator("#need-you input[name=ids]").nth(1).check()
    page.select_option("#need-you select[name=action]", "confirm")
    page.fill("#need-you input[name=reason]", "called them from the shop phone")
    page.click("#need-you button[type=submit]")
    page.wait_for_selector(".msg-success")
    assert "2 orders done." in page.locator(".messages").inner_text()
    assert "2 orders need you" in page.locator("#need-you h2").inner_text()
    assert AuditEntry.objects.filter(action="cod_confirm.confirm").count() == 2

    # A "Test" whose outcome comes later: the page shows it when it comes.
    job = Job.objects.enqueue(RunProbe, key="browser:probe", store=shop["store"], payload={"seconds": 0})
    page.goto(page.base + f"/stores/{shop['store'].pk}/?job={job.pk}")
    assert "Working on it" in page.locator("#job-outcome").inner_text()
    run_job(job.pk)
    page.wait_for_function("document.querySelector('#job-outcome').dataset.state === 'done'")
    assert "The service accepted it" in page.locator("#job-outcome").inner_text()
    assert page.errors == []


def test_settings_refuse_absurd_values_in_turkish(logged_in, shop):
    from ocbridge.core.models import Integration

    page = logged_in
    page.select_option("#lang-select", "tr")
    page.wait_for_function("document.documentElement.lang === 'tr'")
    before = Integration.objects.get(pk=shop["integ"].pk).settings
    page.goto(page.base + f"/stores/{shop['store'].pk}/integrations/cod_confirm/")
    page.fill("input[name=return_shipping_cost]", "1e30")
    page.click("form.form button[type=submit].primary")
    page.wait_for_selector(".msg-error")
    errors = page.locator("#id_return_shipping_cost_errors").inner_text()
    assert "1000000" in errors.replace(".", "").replace(" ", "") and "Ensure" not in errors  # Turkish, not English
    assert Integration.objects.get(pk=shop["integ"].pk).settings == before
    assert page.errors == []


def test_timeline_reasons_and_error_pages_speak_the_readers_language(logged_in, shop):
    page = logged_in
    page.select_option("#lang-select", "ru")
    page.wait_for_function("document.documentElement.lang === 'ru'")
    page.goto(page.base + f"/confirmations/{shop['cases'][0].pk}/")
    timeline = page.locator("ol.timeline").inner_text()
    assert "попытка 1 запланирована на" in timeline and "нет ответа после 3 попыток" in timeline
    assert "UTC" not in timeline and "attempt" not in timeline
    resp = page.goto(page.base + "/no/such/page/")
    assert resp.status == 404 and "Страница не найдена" in page.locator("h1").inner_text()
    assert page.locator("link[href*='app.css']").count() == 1
    page.goto(page.base + "/jobs/")
    cell = page.locator("table.list tbody tr").first.inner_text()
    assert "/srv/x.py" not in cell and "ValueError: boom" in cell  # one line, no server paths


def test_tables_sort_page_and_filter_the_log_by_order(logged_in, shop):
    page = logged_in
    page.goto(page.base + "/confirmations/")
    assert "of 63" in page.locator(".pager").inner_text()
    page.click("table.list th >> text=Total")
    headers = page.locator("table.list thead th").all_inner_texts()
    column = next(i for i, h in enumerate(headers, 1) if h.strip().startswith("Total"))  # "Total ▼" once sorted
    totals = page.locator(f"table.list tbody tr td:nth-child({column})").all_inner_texts()
    assert totals[0].endswith("169.00") and totals[1].endswith("168.00")  # largest first
    page.click(".pager >> text=2")
    assert "51–63" in page.locator(".pager").inner_text()
    assert "Total of these orders" in page.content()
    page.goto(page.base + "/log/")
    page.click("table.list tbody tr a[href*='order=1']")  # the order id links to the log filtered by that order
    assert "order=1" in page.url
    assert page.locator("table.list tbody tr").count() == 1
    csv = page.locator("a.button >> text=Export CSV").get_attribute("href")
    assert "order=1" in csv
    assert page.errors == []


def test_phone_width_pass_over_every_page(browser, live_server, shop):
    context = browser.new_context(locale="ru-RU", viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(live_server.url + "/login/")
    page.fill("input[name=username]", "owner")
    page.fill("input[name=password]", "pw-owner-123")
    page.click("button[type=submit].primary")
    page.wait_for_url(live_server.url + "/")
    page.select_option("#lang-select", "ru")
    page.wait_for_function("document.documentElement.lang === 'ru'")
    s, c, j, e, conf = shop["store"], shop["conn"], shop["job"], shop["ex"], shop["cases"][0]
    paths = ["/", "/stores/", f"/stores/{s.pk}/", f"/stores/{s.pk}/edit/", "/stores/add/",
             f"/stores/{s.pk}/connections/add/", f"/connections/{c.pk}/edit/", "/log/", f"/log/{e.pk}/", "/jobs/",
             f"/jobs/{j.pk}/", "/confirmations/", f"/confirmations/{conf.pk}/",
             f"/stores/{s.pk}/integrations/cod_confirm/"]
    for path in paths:
        resp = page.goto(live_server.url + path)
        assert resp.status == 200, path
        assert page.locator("h1").count() == 1, path
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, (path, overflow)  # nothing pushes the page sideways; wide tables scroll inside
    page.goto(live_server.url + "/confirmations/")
    status = page.locator("table.list thead th", has_text="Статус")
    assert status.is_visible()  # the status column stays on a phone (the phone number is what folds away)
    page.goto(live_server.url + "/")
    if TAKE_SCREENSHOTS:
        page.screenshot(path=str(PHONE_SHOT))  # README: the front page on a phone, in Russian
    for legend in page.locator("ul.chart-legend").all():
        box, card = legend.bounding_box(), legend.locator("xpath=ancestor::section[1]").bounding_box()
        assert box["x"] >= card["x"] and box["x"] + box["width"] <= card["x"] + card["width"] + 1
    assert errors == []
    context.close()
