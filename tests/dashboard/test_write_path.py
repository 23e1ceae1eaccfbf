"""The store page says what the database write path does and what OpenCart would also do, per version; writes the
shop refused are in the owner's "needs attention" list."""

import pytest
from django.urls import reverse

from ocbridge.core import clock
from ocbridge.core.attention import needs_attention
from ocbridge.core.models import Store
from ocbridge.opencart.models import ShopWrite

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("version,special", [("2.3", "from inside its model"), ("3.0", "events in 3.0"),
                                             ("4.0.2", "subscriptions")])
def test_store_page_lists_what_the_database_path_cannot_do_per_version(client_in, version, special):
    store = Store.objects.create(name="S", version=version, db_url="mysql+pymysql://u:p@h/db")
    page = client_in.get(reverse("dashboard:store", args=[store.pk])).content.decode()
    assert 'id="write-path"' in page
    assert "coupon, gift voucher, reward points and store credit" in page
    assert "fraud-check extensions" in page and special in page


def test_api_store_page_has_no_database_path_note(client_in, store):
    assert 'id="write-path"' not in client_in.get(reverse("dashboard:store", args=[store.pk])).content.decode()


def test_a_refused_write_needs_attention_with_the_shops_words(store):
    now = clock.now()
    ShopWrite.objects.create(key="k", store=store, kind="status", order_id=5, state="failed", created=now,
                             updated=now, error="OpenCart answered [] to the login: the API user name or key is wrong")
    items = [a for a in needs_attention(Store.objects.all()) if a.key == "opencart.not_written"]
    assert len(items) == 1 and items[0].count == 1 and "key is wrong" in items[0].text


def test_status_zero_orders_beyond_the_cap_are_shown_on_the_store_page(client_in, store):
    from ocbridge.opencart import feed
    from ocbridge.opencart.models import PollState

    page = lambda: client_in.get(reverse("dashboard:store", args=[store.pk])).content.decode()  # noqa: E731
    assert 'id="unfollowed-zero"' not in page()
    PollState.objects.create(store_db_key=feed.shop_key(store), unfollowed_zero=3, updated=clock.now())
    assert 'id="unfollowed-zero"' in page() and "3 orders left at status 0" in page()
