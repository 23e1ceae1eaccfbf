"""The list of provider methods we call (core/provider_methods.py): nothing past its date, warnings 30 days ahead."""

import datetime as dt
import re

import pytest

from ocbridge.core import clock, provider_methods
from ocbridge.core.provider_methods import METHODS, ProviderMethod, notices


@pytest.mark.parametrize("entry", METHODS, ids=lambda m: m.label)
def test_no_method_we_call_is_past_its_date(entry):
    """By the injected clock's today: a deprecated or switched-off method is a defect, not a note."""
    if entry.overdue(provider_methods.today()):
        when = entry.switch_off or entry.deprecated
        message = f"{entry.label} is deprecated/switched off since {when} ({entry.source}); use {entry.replacement}"
        if entry.fixing:
            pytest.xfail(f"{message} — being replaced in {entry.fixing}")
        pytest.fail(message)


def test_the_check_follows_the_injected_clock():
    """A method still current today fails once the shared clock passes its switch-off date."""
    off = provider_methods.today() + dt.timedelta(days=10)
    entry = ProviderMethod("ozon", "POST /v9/example", "test", "test", dt.date(2026, 1, 1), switch_off=off)
    assert not entry.overdue(provider_methods.today())
    clock.travel(11 * 86400)
    assert entry.overdue(provider_methods.today())
    assert provider_methods.today() > off


def test_entries_are_well_formed():
    seen = set()
    for m in METHODS:
        assert re.fullmatch(r"(GET|POST|PUT|PATCH|DELETE) /\S*", m.method), m.label
        assert m.source and m.used_for and m.checked <= provider_methods.today(), m.label
        assert not m.replacement or m.deprecated or m.switch_off, m.label
        assert not (m.deprecated and m.switch_off) or m.deprecated <= m.switch_off, m.label
        assert (m.service, m.method, m.field) not in seen, f"listed twice: {m.label}"
        seen.add((m.service, m.method, m.field))
    assert [m.service for m in METHODS] == sorted(m.service for m in METHODS), "keep the blocks sorted by service"


def test_paths_match_one_segment_per_placeholder():
    calls = provider_methods.find("twilio", "POST", "/2010-04-01/Accounts/AC123/Calls.json")
    assert [m.method for m in calls] == ["POST /2010-04-01/Accounts/{AccountSid}/Calls.json"]
    assert provider_methods.find("twilio", "POST", "/2010-04-01/Accounts/AC1/x/Calls.json") == []
    assert provider_methods.find("twilio", "GET", "/2010-04-01/Accounts/AC123/Calls.json")[0].method.startswith("GET")
    assert provider_methods.find("netgsm", "POST", "/sms/rest/v2/send/extra") == []


def _at(days_from_now: int, **kw) -> ProviderMethod:
    return ProviderMethod("netgsm", f"POST /x{days_from_now}", "t", "s", dt.date(2026, 1, 1),
                          switch_off=provider_methods.today() + dt.timedelta(days=days_from_now), **kw)


def test_dashboard_notices_start_30_days_before(monkeypatch):
    entries = (_at(31), _at(30), _at(1), _at(-5),
               ProviderMethod("netgsm", "POST /dep", "t", "s", dt.date(2026, 1, 1), deprecated=dt.date(2026, 1, 2)),
               ProviderMethod("twilio", "POST /other", "t", "s", dt.date(2026, 1, 1),
                              switch_off=provider_methods.today()))
    monkeypatch.setattr(provider_methods, "METHODS", entries)
    found = notices({"netgsm"})
    assert [(n.method.method, n.days_left, n.level) for n in found] == [
        ("POST /x-5", -5, "error"), ("POST /x1", 1, "warning"), ("POST /x30", 30, "warning"), ("POST /dep", None, "warning")]
    assert "POST /x31" not in [n.method.method for n in notices()]
    clock.travel(86400)  # one day later the 31-day method is inside the window
    assert "POST /x31" in [n.method.method for n in notices({"netgsm"})]
    assert [n.method.service for n in notices({"twilio"})] == ["twilio"]
