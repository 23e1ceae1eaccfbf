"""The dashboard in a real browser: login, every page, language switch (tr, ru), retry, phone layout, no JS errors."""

import pytest
from testkit import cod_integration

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def data(owner):
    from ocbridge.core.models import Connection, Exchange, Job, Store

    store = Store.objects.create(name="Demo Shop", version="3.0",
                                 db_url="mysql+pymysql://oc:browser-secret-pw@db/oc")
    conn = Connection.objects.create(store=store, service="netgsm", secret={"password": "browser-cred-99"})
    job = Job.objects.create(kind="core.probe", key="b:1", store=store, state="failed", last_error="503 from provider")
    ex = Exchange.objects.create(service="netgsm", store=store, job=job, method="POST", url="https://api.example/sms",
                                 request_body='{"msg": "Merhaba"}', status=503, level="warning")
    from ocbridge.core.models import Integration
    from ocbridge.integrations.cod_confirm.models import Confirmation

    integ = cod_integration(store, conn)
    conf = Confirmation.objects.create(store=store, integration=integ, order_id=77, order_label="#77", status_at_start=1,
                                       customer_name="Ayşe Yılmaz", phone="+905321234567", state="calling")
    return {"store": store, "conn": conn, "job": job, "ex": ex, "conf": conf}


def test_login_required_then_login_works(page, owner):
    page.goto(page.base + "/stores/")
    assert "/login/" in page.url
    page.fill("input[name=username]", "owner")
    page.fill("input[name=password]", "wrong")
    page.click("button[type=submit].primary")
    assert page.locator(".errorlist").count() == 1
    page.fill("input[name=password]", "pw-owner-123")
    page.click("button[type=submit].primary")
    page.wait_for_url("**/stores/")
    assert page.locator("h1").inner_text() == "Stores"
    assert page.errors == []


def test_every_page_opens_without_errors(logged_in, data):
    page = logged_in
    s, c, j, e = data["store"], data["conn"], data["job"], data["ex"]
    for path, heading in [("/", "Overview"), ("/stores/", "Stores"), (f"/stores/{s.pk}/", "Demo Shop"),
                          (f"/stores/{s.pk}/edit/", "Edit Demo Shop"), ("/stores/add/", "Add a store"),
                          (f"/connections/{c.pk}/edit/", "Edit"), ("/log/", "Log"), (f"/log/{e.pk}/", "Exchange"),
                          ("/jobs/", "Jobs"), (f"/jobs/{j.pk}/", "Job"), ("/confirmations/", "Confirmations"),
                          (f"/confirmations/{data['conf'].pk}/", "#77"),
                          (f"/stores/{s.pk}/integrations/cod_confirm/", "COD confirmation")]:
        resp = page.goto(page.base + path)
        assert resp.status == 200, path
        assert heading in page.locator("h1").inner_text(), path
        html = page.content()
        assert "browser-secret-pw" not in html and "browser-cred-99" not in html
    page.goto(page.base + "/")
    titles = page.locator("svg.chart[role=img] > title").all_text_contents()
    assert "Exchanges per day" in titles
    assert page.errors == []


def test_language_switch_to_turkish_and_russian(logged_in, data):
    page = logged_in
    page.goto(page.base + "/stores/")
    page.select_option("#lang-select", "tr")  # app.js submits the form on change
    page.wait_for_load_state("load")
    page.wait_for_function("document.documentElement.lang === 'tr'")
    assert page.locator("h1").inner_text() == "Mağazalar"
    assert "Çıkış yap" in page.locator("header").inner_text()
    assert page.url.endswith("/stores/")
    page.select_option("#lang-select", "ru")
    page.wait_for_function("document.documentElement.lang === 'ru'")
    assert page.locator("h1").inner_text() == "Магазины"
    page.goto(page.base + f"/jobs/{data['job'].pk}/")
    assert "Повторить сейчас" in page.content()
    page.select_option("#lang-select", "en")
    page.wait_for_function("document.documentElement.lang === 'en'")
    assert page.errors == []


def test_retry_now_with_confirmation_dialog(logged_in, data):
    from ocbridge.core.models import AuditEntry, Job

    page = logged_in
    page.on("dialog", lambda d: d.accept())
    page.goto(page.base + f"/jobs/{data['job'].pk}/")
    page.fill("input[name=reason]", "provider is back")
    page.click("form[data-confirm] button[type=submit]")
    page.wait_for_selector(".msg-success")
    assert Job.objects.get(pk=data["job"].pk).state == "queued"
    assert AuditEntry.objects.get(action="job.retry").reason == "provider is back"
    assert page.errors == []


def test_filters_and_csv_link(logged_in, data):
    page = logged_in
    page.goto(page.base + "/log/")
    page.select_option("select[name=level]", "warning")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**/log/?*level=warning*")
    assert page.locator("table.list tbody tr").count() == 1
    href = page.locator("a", has_text="Export CSV").get_attribute("href")
    assert "level=warning" in href
    resp = page.request.get(page.base + href)
    assert resp.ok and "Merhaba" in resp.text()
    assert page.errors == []


def test_phone_layout_menu_toggles(browser, live_server, owner):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(live_server.url + "/login/")
    page.fill("input[name=username]", "owner")
    page.fill("input[name=password]", "pw-owner-123")
    page.click("button[type=submit].primary")
    page.wait_for_url(live_server.url + "/")
    nav = page.locator("#main-nav")
    assert not nav.is_visible()
    page.click(".nav-toggle")
    assert nav.is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1  # no sideways scrolling
    assert errors == []
    context.close()
