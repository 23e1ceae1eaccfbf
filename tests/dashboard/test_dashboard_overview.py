"""Overview cards registry and the SVG chart helper."""

import xml.etree.ElementTree as ET

import pytest
from django.urls import reverse

from ocbridge.dashboard import charts, overview

SVG = "{http://www.w3.org/2000/svg}"


def test_stacked_bars_are_valid_accessible_svg():
    svg = charts.stacked_bars(["01.01", "02.01"], [charts.Series("ok", [3, 1]), charts.Series("bad <x>", [1, 0])],
                              title="Calls & SMS", desc="two days")
    chart, legend = str(svg).split("</svg>")
    root = ET.fromstring(chart + "</svg>")
    assert root.get("role") == "img"
    assert root.find(f"{SVG}title").text == "Calls & SMS" and root.find(f"{SVG}desc").text == "two days"
    bars = root.findall(f"{SVG}rect")
    heights = [float(r.get("height")) for r in bars if r.find(f"{SVG}title") is not None]
    assert len(heights) == 3  # zero values draw nothing
    assert max(heights) == pytest.approx(heights[0])  # the 3 is the tallest segment
    assert "bad &lt;x&gt;" in str(svg)
    items = [li.itertext() for li in ET.fromstring(legend).iter("li")]  # the legend: HTML that wraps, one per series
    assert ["".join(t) for t in items] == ["ok", "bad <x>"]
    labels = [t.text for t in root.iter(f"{SVG}text")]
    assert "01.01" in labels and "02.01" in labels and "4" in labels  # axis top rounded to 4


def test_charts_work_with_empty_data():
    for svg in (charts.stacked_bars([], [], title="Nothing"), charts.bars(["a"], [0], title="Zero")):
        root = ET.fromstring(str(svg))
        assert any("No data" in (t.text or "") for t in root.iter(f"{SVG}text"))


def test_nice_max_rounds_up():
    assert [charts._nice_max(v) for v in (0, 1, 3, 4, 7, 12, 250)] == [4, 4, 4, 4, 8, 20, 400]


@pytest.mark.django_db
def test_registered_card_appears_and_broken_card_does_not_break_page(client_in, monkeypatch):
    monkeypatch.setattr(overview, "_cards", list(overview._cards))

    @overview.register_card(order=1)
    def calls_card(store, period):
        return {"title": "Calls today", "value": "17", "chart": charts.bars(period.labels(), [1] * len(period.days),
                                                                              title="Calls")}

    @overview.register_card
    def broken_card(store, period):
        raise ValueError("bug")

    html = client_in.get(reverse("dashboard:home"), {"days": "7"}).content.decode()
    assert "Calls today" in html and "<svg" in html
    assert "could not be drawn" in html


@pytest.mark.django_db
def test_cards_listed_in_integration_extras_are_used(client_in, monkeypatch):
    from ocbridge.core import registry
    from ocbridge.core.registry import IntegrationInfo

    info = IntegrationInfo(kind="x_feature", label="X", services=(),
                           extras={"overview_cards": [lambda store, period: overview.Card(title="From extras")]})
    monkeypatch.setitem(registry.integrations, "x_feature", info)
    assert "From extras" in client_in.get(reverse("dashboard:home")).content.decode()


@pytest.mark.django_db
def test_exchange_card_counts_per_day_in_store_timezone(client_in, store):
    from ocbridge.core.models import Exchange

    Exchange.objects.create(service="netgsm", store=store, level="error")
    Exchange.objects.create(service="netgsm", store=store, level="info")
    Exchange.objects.create(service="netgsm", level="info")
    card = overview.exchanges_card(store, overview.Period.last(7, overview.display_tz(store)))
    assert card.value == "2" and "1" in card.note
    assert client_in.get(reverse("dashboard:home"), {"store": store.pk}).status_code == 200
