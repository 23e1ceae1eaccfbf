"""One truth about decisions: each decision its own shop write, the comment says who decided, a failed write shows."""

import pytest

from ocbridge.core.models import Store
from ocbridge.integrations.cod_confirm import actions
from ocbridge.integrations.cod_confirm.models import Confirmation
from ocbridge.opencart.models import ShopWrite
from opencart.opencart_helpers import add_order

pytestmark = pytest.mark.django_db(transaction=True)
PHONE = "0532 123 45 67"


def test_overturned_twice_is_written_twice_and_says_who_decided(cod_bed):
    bed = cod_bed("3.0")
    add_order(bed.shop, 3001, telephone=PHONE)
    bed.sim.set_customer("+905321234567", call="confirm")
    bed.run()
    c = Confirmation.objects.get(order_id=3001)
    assert c.state == "confirmed" and bed.order_status(3001) == 2
    assert actions.manual_decide(c, intent="cancel", user="ayse", reason="customer phoned back")
    bed.run()
    c.refresh_from_db()
    assert actions.manual_decide(c, intent="confirm", user="ayse", reason="she changed her mind")
    bed.run()
    history = bed.history(3001)
    assert [s for s, _ in history] == [2, 7, 2]
    assert "by the customer" in history[0][1]
    assert "by ayse" in history[1][1] and "by ayse" in history[2][1]
    assert "customer" not in history[1][1]


def test_a_write_the_shop_refuses_is_failed_visibly_and_retried_with_fixed_credentials(cod_bed):
    bed = cod_bed("3.0")
    add_order(bed.shop, 3002, telephone=PHONE)
    bed.sim.set_customer("+905321234567", call="confirm")
    Store.objects.filter(pk=bed.store.pk).update(api_url="http://127.0.0.1:9/", api_username="Default")
    store = Store.objects.get(pk=bed.store.pk)
    store.secret = {**store.secret, "api_key": "wrong"}
    store.save()
    bed.run()
    c = Confirmation.objects.get(order_id=3002)
    w = ShopWrite.objects.get(store=bed.store, order_id=3002)
    assert c.state == "confirmed" and bed.order_status(3002) == 1  # decided, but not in the shop…
    assert w.state in ("running", "failed") and w.error  # …and the journal says why
    from django.contrib.auth.models import User
    from django.test import Client
    from django.urls import reverse

    client = Client()
    client.force_login(User.objects.create_superuser("boss", password="pw-boss-123"))
    page = client.get(reverse("dashboard:confirmation", args=[c.pk])).content.decode()
    assert 'id="not-written"' in page and "Not written to the shop" in page
