"""One Verimor account serving two shops (an agency's account, Connection.shared_with): both stores' confirmation
SMS go through it, its one push URL brings every delivery report and reply, and each is applied in the store it
belongs to — by our correlation number for reports, by the customer's open order for replies; a number with open
orders in both shops goes to a person in both, never to a guessed one. Real MariaDB shops (3.0 and 4.0), the Verimor
simulator (SMS API v2 as in verimor/SMS-API user_guide.md: one OİM push URL per account)."""


import pytest
import sqlalchemy as sa

from ocbridge import opencart
from ocbridge.core.models import Connection, Exchange, Integration, SideEffect, Store
from ocbridge.integrations.cod_confirm import plan
from ocbridge.integrations.cod_confirm.config import CodConfirmConfig
from ocbridge.integrations.cod_confirm.models import Confirmation
from ocbridge.integrations.cod_confirm.plan import PlanError
from ocbridge.simulators.verimor import VerimorSimulator
from integrations.cod_confirm.conftest import ALL_DAY
from opencart.opencart_helpers import add_order
from testkit import cod_integration, settle

pytestmark = pytest.mark.django_db(transaction=True)


def _status(shop, order_id):
    with shop.engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT order_status_id FROM {shop.prefix}order WHERE order_id = :o"),
                            {"o": order_id}).scalar()


def test_a_shared_verimor_account_routes_reports_and_replies_to_the_right_shop(opencart_db, live_server, settings):
    settings.PUBLIC_URL = live_server.url
    shop_a, shop_b = opencart_db("3.0"), opencart_db("4.0")
    with VerimorSimulator(sms_username="908501112233", sms_password="agency-pass", speed=2000, seed=3) as sim:
        a = Store.objects.create(name="Mağaza A", db_url=shop_a.url, table_prefix=shop_a.prefix, country="TR")
        b = Store.objects.create(name="Mağaza B", db_url=shop_b.url, table_prefix=shop_b.prefix, country="TR")
        other = Store.objects.create(name="Başka ajans", db_url=shop_b.url, table_prefix=shop_b.prefix,
                                     oc_store_id=5, country="TR")
        conn = Connection.objects.create(store=a, service="verimor", name="Ajans Verimor", base_url=sim.base_url,
                                         secret={"username": "908501112233", "password": "agency-pass"})
        cfg = CodConfirmConfig(day_hours=ALL_DAY).to_settings()
        ia = cod_integration(a, conn, settings=cfg, channels=["sms"], delays=[0])
        ib = Integration.objects.create(store=b, kind="cod_confirm", settings=cfg)
        steps = plan.default_steps(conn, ("sms",), (0,), 15)
        with pytest.raises(PlanError):  # not shared with B yet: B cannot use it
            plan.replace(ib, steps)
        conn.shared_with.add(b)
        plan.replace(ib, steps)
        io = Integration.objects.create(store=other, kind="cod_confirm", settings=cfg)
        with pytest.raises(PlanError):  # a store it is not shared with still cannot
            plan.replace(io, steps)
        assert ia.pk and [s.connection for s in plan.steps(ib)] == [conn]
        sim.set_sms_push_url(conn.webhook_url("sms"))  # the account's one push URL (OİM)
        for store in (a, b):
            opencart.poll_new_orders(store)  # first poll: the watermark

        sim.set_customer("+905321110001", sms_reply="evet")  # an order in A only
        sim.set_customer("+905321110002", sms_reply="iptal")  # an order in B only
        sim.set_customer("+905321110003", sms_reply="evet")  # open orders in both shops
        add_order(shop_a, 1001, telephone="0532 111 00 01")
        add_order(shop_b, 2001, telephone="0532 111 00 02")
        add_order(shop_a, 1002, telephone="0532 111 00 03")
        add_order(shop_b, 2002, telephone="0532 111 00 03")
        _run(sim)

        state = {(c.store_id, c.order_id): (c.state, c.needs_person_reason) for c in Confirmation.objects.all()}
        assert state[(a.pk, 1001)][0] == "confirmed" and _status(shop_a, 1001) != 1
        assert state[(b.pk, 2001)][0] == "cancelled" and _status(shop_b, 2001) != 1
        assert state[(a.pk, 1002)] == ("needs_person", "reply to a shared account")
        assert state[(b.pk, 2002)] == ("needs_person", "reply to a shared account")
        assert _status(shop_a, 1002) == 1 and _status(shop_b, 2002) == 1  # nobody decided for them
        # each SMS is the sending store's side effect, made through the one shared account
        sent = SideEffect.objects.filter(kind="sms", key__contains="attempt")
        assert {(e.store_id, e.connection_id) for e in sent} == {(a.pk, conn.pk), (b.pk, conn.pk)}
        assert len(sim.sms_messages()) == 4
        # the replies' log rows belong to the store they were about: A's users never read B's customer
        by_phone = {}
        for ex in Exchange.objects.filter(direction="in", request_body__contains="90532111000"):
            for n in ("1", "2"):
                if f"90532111000{n}" in ex.request_body:
                    by_phone.setdefault(n, set()).add(ex.store_id)
        assert by_phone == {"1": {a.pk}, "2": {b.pk}}, by_phone  # reports and replies alike
        assert Exchange.objects.filter(direction="out", service="verimor", store=b).exists()


def _run(sim, rounds: int = 10) -> None:
    from ocbridge.core.polls import run_all as run_polls

    settle(sim, rounds, each_round=run_polls)
