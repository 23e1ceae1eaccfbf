"""Customer notices on the database write path (opencart.notices): the hub's mail goes once, and only a mail that
went makes the shop's history say "notified" (DESIGN: notify is 1 only when a mail really goes). Real MariaDB shop,
real SMTP exchange with aiosmtpd on loopback (tests/smtpkit.py)."""

import pytest
import sqlalchemy as sa

from ocbridge.core import clock
from ocbridge.core.jobs import run_until_idle
from ocbridge.core.models import Job, SideEffect
from ocbridge.opencart import notices, writes
from ocbridge.opencart.models import ShopWrite

from opencart.opencart_helpers import add_order
from opencart.writes_helpers import make_store

pytestmark = pytest.mark.django_db


def notify_flags(h, order_id=1):
    with h.engine.connect() as conn:
        return conn.execute(sa.text("SELECT order_status_id, notify FROM oc_order_history WHERE order_id = :o "
                                    "ORDER BY order_history_id"), {"o": order_id}).all()


def _run_all(rounds=5):
    for _ in range(rounds):
        run_until_idle()
        clock.travel(3600)  # past any backoff


@pytest.mark.parametrize("version", ["3.0", "4.0"])
def test_a_status_change_with_notify_mails_the_customer_once_then_history_says_notified(opencart_db, hub_mail,
                                                                                        version):
    h = opencart_db(version)
    add_order(h, 1, status=1, email="ayse@example.com")
    store = make_store(h)
    r = writes.change_status(store, 1, expected=1, new=2, comment="Kargoya hazırlanıyor", notify=True, key="w1")
    assert (r.written, r.via, r.notified) == (True, "db", False)  # nothing went yet: the row says notify 0
    assert [tuple(x) for x in notify_flags(h)] == [(2, 0)]
    writes.change_status(store, 1, expected=1, new=2, comment="Kargoya hazırlanıyor", notify=True, key="w1")
    _run_all()
    (msg,) = hub_mail.messages
    assert msg["To"] == "ayse@example.com" and msg["Subject"].endswith("1")
    body = msg.get_payload(decode=True).decode()
    assert "Kargoya hazırlanıyor" in body and "1" in body
    assert [tuple(x) for x in notify_flags(h)] == [(2, 1)]
    assert ShopWrite.objects.get(key="w1").marks["notified"] is True
    assert writes.change_status(store, 1, expected=1, new=2, notify=True, key="w1").notified is True
    effect = SideEffect.objects.get(key="notice:w1")
    assert (effect.state, effect.kind) == ("sent", "mail")
    Job.objects.filter(key="notice:w1").update(state="queued", next_run_at=clock.now())
    _run_all()  # a repeated notice job sends nothing again
    assert len(hub_mail.messages) == 1


def test_a_mail_of_unknown_fate_or_refused_leaves_notify_0_and_is_never_resent(opencart_db, hub_mail):
    h = opencart_db("3.0")
    add_order(h, 1, status=1, email="a@example.com")
    add_order(h, 2, status=1, email="b@example.com")
    store = make_store(h)
    hub_mail.box.faults = ["drop_after_data", "data_554"]
    writes.change_status(store, 1, expected=1, new=2, notify=True, key="w1")
    writes.change_status(store, 2, expected=1, new=2, notify=True, key="w2")
    _run_all()
    assert len(hub_mail.messages) == 1  # the dropped one arrived once; the refused one never
    assert SideEffect.objects.get(key="notice:w1").state == "unknown"
    assert SideEffect.objects.get(key="notice:w2").state == "failed"
    assert "spam" in SideEffect.objects.get(key="notice:w2").error  # the server's own words
    assert [tuple(x) for x in notify_flags(h, 1)] == [(2, 0)] and [tuple(x) for x in notify_flags(h, 2)] == [(2, 0)]


def test_without_mail_or_without_notify_nothing_is_queued(opencart_db, settings):
    settings.EMAIL_HOST = ""
    h = opencart_db("3.0")
    add_order(h, 1, status=1)
    add_order(h, 2, status=1)
    store = make_store(h)
    assert notices.mail_goes(store) is False
    writes.change_status(store, 1, expected=1, new=2, notify=True, key="w1")
    settings.EMAIL_HOST = "127.0.0.1"
    assert notices.mail_goes(store) is True
    writes.change_status(store, 2, expected=1, new=2, notify=False, key="w2")
    assert not Job.objects.filter(kind=notices.StatusNotice.kind).exists()
    assert [tuple(x) for x in notify_flags(h, 1)] == [(2, 0)]


def test_the_notice_speaks_the_order_language():
    subject, body = notices.compose(shop_name="Demo", order_id=7, date_added=None, status="Доставлен", comment="",
                                    lang="ru")
    assert "7" in subject and "Доставлен" in body and "Order" not in body
