"""The rate limit's count (a hot-path read written out in SQL, core.rows.select): the caller's lookups inside the
window, over every store, nothing older and nobody else's."""

import datetime as dt

import pytest

from ocbridge.core import clock
from ocbridge.core.models import Store
from ocbridge.integrations.order_lookup.models import LookupCall

pytestmark = pytest.mark.django_db
ME, OTHER = "+905321234567", "+905329999999"


def test_recent_lookups_counts_this_callers_lookups_inside_the_window_only():
    a, b = Store.objects.create(name="A"), Store.objects.create(name="B")
    now = clock.now()
    for i, (store, caller, lookups, minutes_ago) in enumerate([
            (a, ME, 3, 11),  # before the window
            (a, ME, 2, 9), (b, ME, 1, 0),  # inside it, two stores
            (a, OTHER, 7, 1)]):  # someone else
        LookupCall.objects.create(store=store, service="verimor", call_id=f"c{i}", caller=caller, lookups=lookups,
                                  created=now - dt.timedelta(minutes=minutes_ago))
    assert LookupCall.recent_lookups(ME, minutes=10) == 3
    assert LookupCall.recent_lookups(ME, minutes=12) == 6
    assert LookupCall.recent_lookups("+905320000000", minutes=10) == 0
