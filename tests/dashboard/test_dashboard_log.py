"""Exchange log: filters, default 7-day bound, numbered pages and sorting, detail pretty-printing, streaming CSV."""

import csv
import datetime as dt
import io
import re

import pytest
from django.test import Client
from django.urls import reverse

from ocbridge.core import clock

pytestmark = pytest.mark.django_db


def _ex(**kw):
    from ocbridge.core.models import Exchange

    fields = {"service": "netgsm", "method": "POST", "url": "https://api.netgsm.com.tr/sms/send", "status": 200}
    fields.update(kw)
    return Exchange.objects.create(**fields)


def _ids(resp):
    return [ex.pk for ex in resp.context["page"].rows]


def test_filters_by_level_service_store_direction_order_and_text(client_in, store):
    a = _ex(level="error", store=store, order_id=42, error="Invalid sender")
    b = _ex(level="info", service="verimor", direction="in", response_body='{"campaign":"x-77"}')
    c = _ex(level="warning", store=store, request_body="msgheader=SHOP&no=5321112233")
    url = reverse("dashboard:exchanges")
    assert _ids(client_in.get(url)) == [c.pk, b.pk, a.pk]
    assert _ids(client_in.get(url, {"level": "error"})) == [a.pk]
    assert _ids(client_in.get(url, {"service": "verimor"})) == [b.pk]
    assert _ids(client_in.get(url, {"store": store.pk})) == [c.pk, a.pk]
    assert _ids(client_in.get(url, {"direction": "in"})) == [b.pk]
    assert _ids(client_in.get(url, {"order": 42})) == [a.pk]
    assert _ids(client_in.get(url, {"q": "x-77"})) == [b.pk]
    assert _ids(client_in.get(url, {"q": "invalid SENDER"})) == [a.pk]
    assert _ids(client_in.get(url, {"q": "msgheader"})) == [c.pk]


def test_default_time_range_is_seven_days(client_in):
    old = _ex(created=clock.now() - dt.timedelta(days=8))
    new = _ex()
    url = reverse("dashboard:exchanges")
    assert _ids(client_in.get(url)) == [new.pk]
    start = (clock.now() - dt.timedelta(days=10)).strftime("%Y-%m-%dT%H:%M")
    assert _ids(client_in.get(url, {"start": start})) == [new.pk, old.pk]


def test_end_before_start_is_an_error(client_in):
    resp = client_in.get(reverse("dashboard:exchanges"), {"start": "2026-01-02T00:00", "end": "2026-01-01T00:00"})
    assert "end" in resp.context["form"].errors


def test_numbered_pages_with_a_total_and_sortable_columns(client_in, monkeypatch):
    from ocbridge.dashboard import tables

    rows = [_ex(status=200 + i) for i in range(tables.PAGE_SIZE + 5)]
    url = reverse("dashboard:exchanges")
    first = client_in.get(url, {"service": "netgsm"})
    page = first.context["page"]
    assert len(page.rows) == tables.PAGE_SIZE and page.pages == 2 and page.total == len(rows)
    html = first.content.decode()
    assert "page=2" in html and f"of {len(rows)}" in html
    second = client_in.get(url, {"service": "netgsm", "page": 2})
    assert _ids(second) == [r.pk for r in reversed(rows[:5])]
    by_status = client_in.get(url, {"service": "netgsm", "sort": "status"})
    assert _ids(by_status)[:3] == [r.pk for r in rows[:3]]  # lowest status first
    assert 'aria-sort="ascending"' in by_status.content.decode()
    monkeypatch.setattr(tables, "WINDOW", 20)  # past the counted window: "more than", and older moves by id
    capped = client_in.get(url, {"service": "netgsm", "page": 99}).context["page"]
    assert capped.capped and capped.number == 1 and capped.older_before == capped.rows[-1].pk


def test_detail_pretty_prints_json_and_form_bodies(client_in):
    ex = _ex(request_body='{"messages":[{"no":"5321112233"}]}', response_body="code=00&jobid=1234")
    html = client_in.get(reverse("dashboard:exchange", args=[ex.pk])).content.decode()
    assert '{\n  &quot;messages&quot;: [' in html
    assert "code = 00\njobid = 1234" in html


WAITING = "Waiting for the worker"


def test_a_stored_webhook_whose_jobs_are_not_made_yet_says_it_waits_for_the_worker(client_in, store):
    """Stored webhooks are the queue (core.inbox): until the worker's dispatcher makes its jobs, the row has no job
    link — the page says why, and shows the link once they are made."""
    from ocbridge.core import inbox
    from ocbridge.core.models import Exchange

    ex = _ex(direction="in", service="opencart", store=store, url="/push/1/7/0/x/", pending_jobs=[inbox.job(
        "opencart.read_pushed", key="opencart.push:test", store_id=store.pk, integration_id=None, payload={})])
    url = reverse("dashboard:exchange", args=[ex.pk])
    html = client_in.get(url).content.decode()
    job_link = re.compile(re.escape(reverse("dashboard:job", args=[0])[:-2]) + r"\d+/")
    assert WAITING in html and not job_link.search(html)
    assert inbox.queue_stored() == 1
    job_id = Exchange.objects.get(pk=ex.pk).job_id
    html = client_in.get(url).content.decode()
    assert WAITING not in html and reverse("dashboard:job", args=[job_id]) in html


def test_csv_export_streams_the_filtered_set(client_in, store):
    _ex(level="error", store=store, url="https://x/=cmd", error="=HYPERLINK(1)")
    _ex(level="info", response_body="Привет, Türkçe")
    resp = client_in.get(reverse("dashboard:exchanges-csv"), {"level": "error"})
    assert resp.streaming and resp["Content-Type"].startswith("text/csv")
    assert "attachment" in resp["Content-Disposition"]
    text = b"".join(resp.streaming_content).decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert len(rows) == 1 and rows[0]["level"] == "error" and rows[0]["store"] == str(store.pk)
    assert rows[0]["error"] == "'=HYPERLINK(1)"  # no formula injection into spreadsheets
    everything = b"".join(client_in.get(reverse("dashboard:exchanges-csv")).streaming_content).decode()
    assert "Привет, Türkçe" in everything


def test_pretty_body_keeps_unparseable_text():
    from ocbridge.dashboard.templatetags.ocbridge_dashboard import pretty_body

    assert pretty_body("{not json") == "{not json"
    assert pretty_body("<a><b>1</b></a>").startswith("<?xml")
    assert pretty_body("plain text here") == "plain text here"


@pytest.mark.parametrize("lang,sep", [("tr", ";"), ("ru", ";"), ("en", ",")])
def test_csv_separator_follows_the_readers_spreadsheet(client_in, lang, sep):
    _ex(level="error", error="a, b; c")
    client_in.cookies["django_language"] = lang
    text = b"".join(client_in.get(reverse("dashboard:exchanges-csv")).streaming_content).decode()
    header = text.lstrip("\ufeff").splitlines()[0]
    assert header.startswith(f"id{sep}created{sep}")
    chosen = b"".join(client_in.get(reverse("dashboard:exchanges-csv"), {"sep": "tab"}).streaming_content).decode()
    assert chosen.lstrip("\ufeff").startswith("id\tcreated\t")


@pytest.mark.skipif("sqlite" not in __import__("django.db").db.connection.vendor, reason="SQLite's plan")
@pytest.mark.parametrize("params", [{}, {"store": True}, {"service": "netgsm"}, {"level": "error"}, {"level": "warning"},
                                    {"level": "info"}, {"store": True, "service": "netgsm"}, {"member": True}])
def test_each_filter_of_the_log_is_read_through_an_index_in_page_order_without_a_sort(user, store, params):
    """The default 7-day page, and the store, service and level filters: an index serves the time range and the order
    (newest first), so a page reads its 50 rows, not the whole week sorted (bench/overview.py, section 4). So does the
    default page of a user who is not an administrator and sees one store (core.access.scoped)."""
    from django.contrib.auth.models import User
    from django.db import connection

    from ocbridge.core.models import StoreMember
    from ocbridge.dashboard.filters import exchange_queryset
    from ocbridge.dashboard.forms import ExchangeFilterForm
    from ocbridge.dashboard.views.exchanges import DEFAULT_SORT
    from testkit import without_statistics

    without_statistics()
    if params.pop("member", False):
        user = User.objects.create_user("operator-of-one")
        StoreMember.objects.create(user=user, store=store, role="operator")
        params = {"store": None}  # no filter asked for: the scope alone names the store
    data = {k: str(store.pk) if v is True else v for k, v in params.items() if v is not None}
    qs = exchange_queryset(ExchangeFilterForm(data, user=user), user)[0].order_by(DEFAULT_SORT, "-pk")
    sql, args = qs[:50].query.sql_with_params()
    with connection.cursor() as cur:
        cur.execute("EXPLAIN QUERY PLAN " + sql, args)
        plan = " | ".join(row[-1] for row in cur.fetchall())
    assert "TEMP B-TREE" not in plan, plan
    # Info rows have no level index entry (core 0034): nearly every row is info, so `created` in page order serves them.
    if params == {"level": "info"}:
        assert "INDEX core_exchange_created" in plan, plan
        return
    index = {"store": "exchange_store_time", "service": "exchange_service_time", "level": "exchange_trouble_time"}
    assert any(f"INDEX {index[k]}" in plan for k in params) if params else "created" in plan, plan


@pytest.fixture
def member_of_three(db):
    """A user who sees three stores (not an administrator), their stores' rows interleaved in time with equal times
    among them, and a fourth store's rows they must not see."""
    from django.contrib.auth.models import User

    from ocbridge.core.models import Store, StoreMember

    user = User.objects.create_user("agency-operator")
    mine = [Store.objects.create(name=f"Shop {k}") for k in range(3)]
    other = Store.objects.create(name="Not theirs")
    for s in mine:
        StoreMember.objects.create(user=user, store=s, role="operator")
    base = clock.now() - dt.timedelta(hours=5)
    for i in range(140):
        at = base + dt.timedelta(minutes=i // 2)  # pairs of rows share a time: the id decides between them
        _ex(store=(mine + [other])[i * 7 % 4], created=at, level="error" if i % 5 == 0 else "info")
    c = Client()
    c.force_login(user)
    return c, mine


@pytest.mark.parametrize("params", [{}, {"page": 2}, {"page": 3}, {"sort": "created"}, {"page": 2, "sort": "created"},
                                    {"level": "error"}, {"before": "60"}, {"sort": "-id"}])
def test_a_few_stores_users_pages_are_the_same_rows_in_the_same_order(member_of_three, params):
    """A user who sees 2–100 stores (their ids in the query, core.access.scoped): the rows, the order (time, then id,
    newest first or oldest), the keyset pages and the total are theirs, as one sorted query of their rows gives."""
    from ocbridge.core.models import Exchange

    client, mine = member_of_three
    before = Exchange.objects.order_by("pk").values_list("pk", flat=True)[59] + 1 if "before" in params else None
    params = {**params, "before": before} if before else params
    resp = client.get(reverse("dashboard:exchanges"), params)
    want = Exchange.objects.filter(store__in=mine)
    want = want.filter(level=params["level"]) if "level" in params else want
    want = want.filter(pk__lt=before) if before else want
    sort = params.get("sort", "-created")
    want = list(want.order_by(sort, "-pk" if sort.startswith("-") else "pk").values_list("pk", flat=True))
    page = resp.context["page"]
    n = params.get("page", 1)
    assert _ids(resp) == want[(n - 1) * 50: n * 50] and page.total == len(want)
    assert all(ex.store in mine for ex in page.rows)


@pytest.mark.parametrize("lang", ["en", "tr", "ru"])
@pytest.mark.parametrize("chosen", [None, 1])
def test_the_store_list_of_a_filter_is_the_html_djangos_templates_write(user, lang, chosen):
    """The filters' store list is written in Python from the stores' ids and names (forms.StoreChoiceField: 1,000
    stores as model instances through Django's option template cost more than the rest of the log page); the HTML is
    what Django's ModelChoiceField and Select write, byte for byte, names that need escaping, the chosen store and the
    translated "All" included."""
    from django import forms as django_forms
    from django.forms.models import ModelChoiceIterator
    from django.utils import translation

    from ocbridge.core.models import Store
    from ocbridge.dashboard.forms import ExchangeFilterForm, ManyOptionsSelect

    stores = [Store.objects.create(name=n) for n in ('Çiçek <b>"Shop"</b>', "A & B's", "Магазин", "plain")]
    data = {"store": str(stores[chosen].pk)} if chosen is not None else None
    with translation.override(lang):
        form = ExchangeFilterForm(data, user=user)
        ours = str(form["store"])
        assert isinstance(form.fields["store"].widget, ManyOptionsSelect)
        field = form.fields["store"]
        field.iterator = ModelChoiceIterator
        field.widget = django_forms.Select(choices=field.choices)
        django_html = str(form["store"])
    assert ours == django_html and "&lt;b&gt;" in ours and ours.count(" selected") == 1
    assert f'value="{stores[chosen].pk}" selected' in ours if chosen is not None else 'value="" selected' in ours


@pytest.mark.parametrize("lang", ["en", "tr", "ru"])
def test_the_log_page_decrypts_no_secret_and_names_each_rows_level_service_and_direction(client_in, store, lang,
                                                                                          monkeypatch):
    """The list shows no secret, so it decrypts none: before, each row's store (50 a page) and each store named in
    the store filter was decrypted as it was read — at 1,000 stores more time than the rest of the page. The level,
    service and direction words, looked up once a page, are each row's get_FOO_display() in the reader's language."""
    from django.utils import translation

    from ocbridge.core import secrets
    from ocbridge.core.models import Store

    for k in range(3):
        Store.objects.create(name=f"Other {k}", secret={"db_password": f"pw-{k}"})
    rows = [_ex(store=store, level=level, service=service, direction=direction)
            for level, service, direction in [("info", "netgsm", "out"), ("warning", "ozon", "in"),
                                              ("error", "despatch", "out"), ("info", "opencart", "in")]]
    calls = []
    decrypt = secrets.decrypt_json
    monkeypatch.setattr(secrets, "decrypt_json", lambda *a, **k: calls.append(1) or decrypt(*a, **k))
    client_in.cookies["django_language"] = lang
    html = client_in.get(reverse("dashboard:exchanges")).content.decode()
    assert calls == []
    with translation.override(lang):
        for ex in rows:
            cells = re.search(rf'<a href="[^"]*/{ex.pk}/">{ex.pk}</a></td>(.*?)</tr>', html, re.S).group(1)
            words = [ex.get_level_display(), ex.get_service_display(), ex.get_direction_display()]
            assert [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", cells, re.S)[1:4]] == [
                str(w) for w in words]
