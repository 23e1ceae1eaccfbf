"""The channel plan: steps through their own connections, spacing, an answerable attempt blocking the next one,
a refused account handing over, and the migration of the single connection into a plan."""

import pytest

from ocbridge.core import clock
from ocbridge.core.models import AuditEntry, Connection
from ocbridge.integrations.cod_confirm import plan
from ocbridge.integrations.cod_confirm.models import Confirmation
from opencart.opencart_helpers import add_order

pytestmark = pytest.mark.django_db(transaction=True)
PHONE = "0532 123 45 67"
E164 = "+905321234567"


def _second_account(bed, token="second-token") -> Connection:
    bed.sim.tokens[token] = "second"
    return Connection.objects.create(store=bed.store, service="sandbox", name="Second", base_url=bed.sim.base_url,
                                     secret={"token": token, "webhook_secret": "sandbox-webhook-secret"})


def test_each_step_goes_through_its_own_connection_after_its_spacing(cod_bed):
    bed = cod_bed("3.0")
    second = _second_account(bed)
    plan.replace(bed.integration, [plan.Step("call", bed.connection, 0, 15), plan.Step("sms", second, 30, 15)])
    add_order(bed.shop, 2001, telephone=PHONE)
    bed.sim.set_customer(E164, call="no_answer", sms_reply="EVET")
    bed.run()
    c = Confirmation.objects.get(order_id=2001)
    assert c.state == "no_answer" and bed.sim.messages() == []
    assert (c.next_attempt_at - c.attempts.get().created).total_seconds() == pytest.approx(30 * 60, abs=5)
    clock.travel(31 * 60)
    bed.run()
    c.refresh_from_db()
    assert [(a.channel, a.connection_id) for a in c.attempts.all()] == [("call", bed.connection.pk), ("sms", second.pk)]
    assert [m["account"] for m in bed.sim.messages()] == ["second"]
    assert c.state == "confirmed" and bed.order_status(2001) == 2


def test_an_sms_that_may_still_be_answered_blocks_the_next_step_until_its_window_ends(cod_bed):
    bed = cod_bed("3.0", channels=["sms", "call"], delays=[0, 5], window=60)
    add_order(bed.shop, 2002, telephone=PHONE)
    bed.sim.set_customer(E164, sms_reply=None, call="confirm")
    bed.run()
    clock.travel(10 * 60)  # the call's 5 minutes have passed, the SMS's 60-minute window has not
    bed.run()
    assert bed.sim.calls() == [] and Confirmation.objects.get(order_id=2002).state == "sms_sent"
    clock.travel(51 * 60)
    bed.run()
    assert len(bed.sim.calls()) == 1 and Confirmation.objects.get(order_id=2002).state == "confirmed"


def test_a_refused_account_hands_over_at_once_to_the_next_step_on_another_account(cod_bed):
    bed = cod_bed("3.0")
    bad = Connection.objects.create(store=bed.store, service="sandbox", name="Expired", base_url=bed.sim.base_url,
                                    secret={"token": "revoked", "webhook_secret": "x"})
    plan.replace(bed.integration, [plan.Step("call", bad), plan.Step("call", bad, 30), plan.Step("sms", bed.connection, 30)])
    add_order(bed.shop, 2003, telephone=PHONE)
    bed.sim.set_customer(E164, sms_reply="EVET")
    bed.run()  # no clock travel: the refused step never reached the customer, so no spacing
    c = Confirmation.objects.get(order_id=2003)
    assert [(a.number, a.state) for a in c.attempts.all()] == [(1, "failed"), (3, "answered")]
    assert c.state == "confirmed" and bed.sim.calls() == []


def test_the_plan_is_validated_as_a_whole_and_its_changes_are_audited(cod_bed):
    from ocbridge.core.models import Store

    bed = cod_bed("3.0")
    other = Connection.objects.create(store=Store.objects.create(name="Other"), service="sandbox")
    with pytest.raises(plan.PlanError) as err:
        plan.replace(bed.integration, [plan.Step("call", bed.connection), plan.Step("sms", other)])
    assert err.value.step == 2
    with pytest.raises(plan.PlanError):
        plan.replace(bed.integration, [])
    with pytest.raises(plan.PlanError) as err:
        plan.replace(bed.integration, [plan.Step("call", bed.connection, 0, plan.MAX_WINDOW_MINUTES + 1)])
    assert err.value.step == 1
    assert plan.describe(plan.steps(bed.integration)) == "Call (Sandbox) → Call (Sandbox) → SMS (Sandbox)"
    plan.replace(bed.integration, [plan.Step("sms", bed.connection)], user="ayse")
    entry = AuditEntry.objects.get(action="cod_confirm.channel_plan")
    assert entry.user == "ayse" and entry.data == {"old": "Call (Sandbox) → Call (Sandbox) → SMS (Sandbox)",
                                                   "new": "SMS (Sandbox)"}


def test_migration_moves_the_single_connection_and_its_settings_into_a_plan():
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    # core stays at its newest state: its tables keep columns added since (NOT NULL, e.g. Store.stock_source), so
    # the historical models that insert rows must know them
    before = [("cod_confirm", "0008_skipped_state"),
              *[n for n in executor.loader.graph.leaf_nodes() if n[0] == "core"]]
    executor.migrate(before)
    apps = executor.loader.project_state(before).apps
    Store, Connection_, Integration = (apps.get_model("core", m) for m in ("Store", "Connection", "Integration"))
    Confirmation_, Attempt = apps.get_model("cod_confirm", "Confirmation"), apps.get_model("cod_confirm", "Attempt")
    made = {}
    for name, settings in (("default", {}), ("sms", {"channel_policy": "sms", "attempt_offsets_minutes": [5, 20],
                                                      "answer_wait_minutes": 40, "dry_run": True}),
                           ("one", {"attempt_offsets_minutes": [0]})):
        store = Store.objects.create(name=name)
        conn = Connection_.objects.create(store=store, service="verimor")
        integ = Integration.objects.create(store=store, kind="cod_confirm", connection=conn, settings=settings)
        c = Confirmation_.objects.create(store=store, integration=integ, order_id=1, order_label="1", status_at_start=1)
        Attempt.objects.create(confirmation=c, store=store, number=1, channel="call", service="verimor", key=name)
        made[name] = (integ.pk, conn.pk)
    bare = Integration.objects.create(store=Store.objects.create(name="bare"), kind="cod_confirm", settings={})
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    from ocbridge.core.models import Integration as Current
    from ocbridge.integrations.cod_confirm.models import Attempt as CurrentAttempt
    from ocbridge.integrations.cod_confirm.models import ChannelStep

    def steps(name):
        return [(s.channel, s.connection_id, s.delay_minutes, s.window_minutes)
                for s in ChannelStep.objects.filter(integration_id=made[name][0]).order_by("position")]

    conn = {name: made[name][1] for name in made}
    assert steps("default") == [("call", conn["default"], 0, 15), ("call", conn["default"], 30, 15),
                                ("sms", conn["default"], 90, 15)]
    assert steps("sms") == [("sms", conn["sms"], 5, 40), ("sms", conn["sms"], 15, 40)]
    assert steps("one") == [("call", conn["one"], 0, 15)]
    migrated = Current.objects.get(pk=made["sms"][0])
    assert migrated.connection_id is None and migrated.settings == {"dry_run": True}
    assert not ChannelStep.objects.filter(integration_id=bare.pk).exists()
    assert dict(CurrentAttempt.objects.values_list("key", "connection_id")) == conn
