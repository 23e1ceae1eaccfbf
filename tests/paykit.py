"""A payments test bed (tests/integrations/payments and the browser tests): an OpenCart shop on MariaDB (3.0 and
4.0 layouts), the APS simulator over HTTP, the hub's live server receiving the simulator's feedback, and a customer
who follows the pay link in a plain HTTP client."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from decimal import Decimal

import httpx
import pytest
import sqlalchemy as sa

from ocbridge.core.models import Connection, Integration, Store
from ocbridge.opencart.reference import complete_row
from ocbridge.simulators.aps import ApsSimulator

import testkit

CREDS = {"merchant_identifier": "MxvOupuG", "access_code": "SILgpo7pWbmzuURp2qri", "sha_request_phrase": "PASS",
         "sha_response_phrase": "RESP"}


@dataclass
class Bed:
    shop: object
    sim: ApsSimulator
    store: Store
    connection: Connection
    integration: Integration
    hub: str

    def add_order(self, order_id: int, *, total: str = "20.00", currency: str = "AED", status: int = 1,
                  rate: str = "1", store_url: str = "https://gulf-shop.example/", invoice: tuple[str, int] = ("", 0)) -> None:
        md = sa.MetaData()
        md.reflect(self.shop.engine, only=[f"{self.shop.prefix}order", f"{self.shop.prefix}order_history"])
        order, history = md.tables[f"{self.shop.prefix}order"], md.tables[f"{self.shop.prefix}order_history"]
        row = {"order_id": order_id, "store_id": 0, "firstname": "Layla", "lastname": "Hassan",
               "email": "layla@example.com", "telephone": "+971501234567", "order_status_id": status,
               "total": Decimal(total), "currency_code": currency, "currency_value": Decimal(rate), "language_id": 1,
               "date_added": dt.datetime(2026, 12, 6, 9), "date_modified": dt.datetime(2026, 12, 6, 9),
               "store_name": "Gulf", "custom_field": "[]", "comment": "", "customer_id": 0, "store_url": store_url,
               "invoice_prefix": invoice[0], "invoice_no": invoice[1]}
        if self.shop.version == "4.0":
            row["payment_method"] = json.dumps({"name": "Card", "code": "ocbridge.ocbridge"})
        else:
            row.update(payment_method="Card", payment_code="ocbridge")
        with self.shop.engine.begin() as conn:
            conn.execute(sa.insert(order), [complete_row(order, row)])
            conn.execute(sa.insert(history), [complete_row(history, {
                "order_id": order_id, "order_status_id": status, "notify": 0, "comment": "",
                "date_added": dt.datetime(2026, 12, 6, 9)})])

    def new_payment(self, order_id: int, *, total: str = "20.00", currency: str = "AED", language: str = "ar",
                    **kw):
        """A new order in the shop and a pay link's Payment for its total (payments.links.new_payment)."""
        from ocbridge.integrations.payments import links

        self.add_order(order_id, total=total, currency=currency)
        return links.new_payment(self.integration, order_id=order_id, amount=total, currency=currency,
                                 email="layla@example.com", language=language, **kw)

    def paid_payment(self, order_id: int, **kw):
        """`new_payment` paid by the customer at the gateway, its feedback applied: the Payment, state "paid"."""
        from ocbridge.integrations.payments import links

        payment = self.new_payment(order_id, **kw)
        self.customer_pays(links.url_for(payment))
        self.settle()
        payment.refresh_from_db()
        assert payment.state == "paid", payment.state
        return payment

    def history(self, order_id: int) -> list[tuple[int, str]]:
        with self.shop.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(
                f"SELECT order_status_id, comment FROM {self.shop.prefix}order_history WHERE order_id = :o "
                "ORDER BY order_history_id"), {"o": order_id})]

    def order_status(self, order_id: int) -> int:
        with self.shop.engine.connect() as conn:
            return conn.execute(sa.text(f"SELECT order_status_id FROM {self.shop.prefix}order WHERE order_id = :o"),
                                {"o": order_id}).scalar()

    def settle(self, rounds: int = 8) -> None:
        """Run due jobs, let the simulator's feedback arrive, run again — until quiet."""
        testkit.settle(self.sim, rounds)

    def customer_pays(self, link: str, decision: str = "pay") -> httpx.Response:
        """The customer opens the link, is handed to the gateway's page, decides, and is sent back to the hub."""
        with httpx.Client(timeout=10) as web:
            page = web.get(link, follow_redirects=True)
            assert page.status_code == 200, page.text
            action = re.search(r'<form method="post" action="([^"]+)"', page.text).group(1)
            fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
            fields = {k: v.replace("&amp;", "&").replace("&#x27;", "'").replace("&quot;", '"') for k, v in fields.items()}
            assert "card_number" not in fields  # the card is typed at the gateway only
            card_page = web.post(action, data=fields)
            if card_page.status_code == 302:  # refused by the gateway (signature): straight back
                return web.get(card_page.headers["location"])
            token = re.search(r"name=page value=([^\s>]+)>", card_page.text).group(1)
            back = web.post(self.sim.base_url + "/FortAPI/paymentPage/decide", data={"page": token, "decision": decision})
            assert back.status_code == 302
            return web.get(back.headers["location"])


@pytest.fixture
def aps_bed(opencart_db, live_server, settings):
    settings.PUBLIC_URL = live_server.url
    settings.SIMULATOR_HOSTS = ["127.0.0.1"]
    sims: list[ApsSimulator] = []

    def make(version: str = "3.0", **cfg) -> Bed:
        shop = opencart_db(version)
        sim = ApsSimulator(speed=1000)
        sim.start()
        sims.append(sim)
        store = Store.objects.create(name="Gulf shop", db_url=shop.url, table_prefix=shop.prefix, timezone="Asia/Dubai",
                                     country="AE", currency="AED", language="ar")
        conn = Connection.objects.create(store=store, service="aps", base_url=sim.base_url, secret=dict(CREDS),
                                         options={"sha_type": "sha256"})
        integration = Integration.objects.create(store=store, kind="aps", connection=conn, settings={
            "command": "PURCHASE", "paid_status_id": 2, "refunded_status_id": 11, "link_hours": 48, **cfg})
        sim.configure(feedback_url=conn.webhook_url("feedback"), notification_url=conn.webhook_url("notification"))
        return Bed(shop, sim, store, conn, integration, live_server.url)

    yield make
    for sim in sims:
        sim.stop()


@pytest.fixture
def lat_bed(opencart_db, live_server, settings):
    """The same bed with a LatitudePay connection (AUD) and its simulator."""
    from ocbridge.services import latitudepay
    from ocbridge.simulators.latitudepay import LatitudeSimulator

    settings.PUBLIC_URL = live_server.url
    settings.SIMULATOR_HOSTS = ["127.0.0.1"]
    latitudepay.forget_tokens()
    sims: list = []

    def make(version: str = "3.0", **cfg) -> Bed:
        shop = opencart_db(version)
        sim = LatitudeSimulator(speed=1000)
        sim.start()
        sims.append(sim)
        store = Store.objects.create(name="Aussie shop", db_url=shop.url, table_prefix=shop.prefix,
                                     timezone="Australia/Sydney", country="AU", currency="AUD", language="en")
        conn = Connection.objects.create(store=store, service="latitudepay", base_url=sim.base_url,
                                         secret={"api_key": "lp-key", "api_secret": "lp-secret"},
                                         options={"currency": "AUD"})
        integration = Integration.objects.create(store=store, kind="latitudepay", connection=conn, settings={
            "paid_status_id": 2, "refunded_status_id": 11, "link_hours": 48, **cfg})
        return Bed(shop, sim, store, conn, integration, live_server.url)

    yield make
    for sim in sims:
        sim.stop()


def latitude_pays(bed, link: str, decision: str = "pay") -> httpx.Response:
    """The customer opens the link, is sent to Latitude's paymentUrl, decides, and comes back to the hub."""
    with httpx.Client(timeout=10) as web:
        first = web.get(link, follow_redirects=True)
        assert first.status_code == 200 and "LatitudePay (simulator)" in first.text, first.text
        back = web.post(str(first.url), data={"decision": decision})
        assert back.status_code == 302
        return web.get(back.headers["location"])


def _unescape(value: str) -> str:
    return value.replace("&amp;", "&").replace("&#x27;", "'").replace("&quot;", '"')


def hidden_fields(html: str) -> dict:
    return {k: _unescape(v) for k, v in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html)}


def merchant_pays(bed: Bed, link: str, card: str = "4111111111111111", *, query: str = "", plan: str = "",
                  web: httpx.Client | None = None) -> httpx.Response:
    """The customer opens the link (merchant page); the pay page's card form goes into the iframe (here: posted
    by hand, as the page's script does), the card is typed on APS's page, and the iframe comes back to the hub's
    card URL. Returns the hub's answer inside the iframe."""
    own = web is None
    web = web or httpx.Client(timeout=10)
    try:
        page = web.get(link + query)
        assert page.status_code == 200, page.text
        form = re.search(r'<form method="post" action="([^"]+)" target="aps-card" id="card-form">(.*?)</form>',
                         page.text, re.S)
        assert form, page.text
        fields = hidden_fields(form.group(2))
        assert "card_number" not in fields and fields["service_command"] == "TOKENIZATION"
        card_page = web.post(_unescape(form.group(1)), data=fields)
        if card_page.status_code == 302:  # refused by APS (signature): straight back
            return web.get(card_page.headers["location"])
        token = re.search(r"name=page value=([^\s>]+)>", card_page.text).group(1)
        back = web.post(bed.sim.base_url + "/FortAPI/paymentPage/tokenize", data={
            "page": token, "card_number": card, "expiry_date": "3012", "card_security_code": "123", "plan": plan})
        assert back.status_code == 302
        answer = back.headers["location"]
        step = card_step(bed, web, web.get(answer))
        step.answer_url = answer  # APS's signed tokenization answer, for a test that replays it
        return step
    finally:
        if own:
            web.close()


def card_step(bed: Bed, web: httpx.Client, step: httpx.Response) -> httpx.Response:
    """The hub's card step as the iframe ends up showing it: while it says "processing" (the purchase job has not
    decided), the worker's part is played (due jobs run) and the page's own refresh is followed."""
    from ocbridge.core.jobs import run_until_idle

    for _ in range(20):
        if 'id="processing"' not in step.text:
            return step
        run_until_idle()
        wait = re.search(r'http-equiv="refresh" content="\d+;url=([^"]+)"', step.text).group(1)
        step = web.get(bed.hub + _unescape(wait))
    raise AssertionError(f"the card step still says processing after its jobs ran: {step.text}")


def top_url(step: httpx.Response) -> str:
    """Where the hub's page in the iframe sends the whole window (window.top.location)."""
    return re.search(r'window\.top\.location\.href = "([^"]+)"', step.text).group(1).encode().decode("unicode_escape")
