"""Sharing one provider account with other stores from the connection's form: only stores the user owns are
offered and accepted; sharing set by someone owning more stores survives an edit by an owner of fewer."""

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from ocbridge.core.models import Connection, Store, StoreMember

pytestmark = pytest.mark.django_db


def _user(name, *stores):
    user = User.objects.create_user(name, password="x")
    for s in stores:
        StoreMember.objects.create(store=s, user=user, role="owner")
    c = Client()
    c.force_login(user)
    return c


def test_an_agency_shares_its_account_and_a_shop_owner_cannot_reach_further():
    a, b, c = (Store.objects.create(name=n) for n in ("Mağaza A", "Mağaza B", "Yabancı C"))
    conn = Connection.objects.create(store=a, service="netgsm", name="Ajans Netgsm",
                                     secret={"usercode": "8503001122", "password": "pw"})
    agency, shop_owner = _user("agency", a, b), _user("owner-a", a)
    url = reverse("dashboard:connection-edit", args=[conn.pk])
    page = agency.get(url).content.decode()
    assert "Mağaza B" in page and "Yabancı C" not in page
    form = {"service": "netgsm", "name": "Ajans Netgsm", "enabled": "on", "options_json": "{}"}
    assert agency.post(url, {**form, "share_with": [b.pk]}).status_code == 302
    assert list(conn.shared_with.all()) == [b]
    assert "Ajans Netgsm" in agency.get(reverse("dashboard:store", args=[b.pk])).content.decode()
    refused = shop_owner.post(url, {**form, "share_with": [c.pk]})  # not theirs to share with
    assert refused.status_code == 200 and list(conn.shared_with.all()) == [b]  # refused, nothing saved
    assert "Mağaza B" not in shop_owner.get(url).content.decode()  # they do not own B: not even offered
    assert shop_owner.post(url, {**form, "name": "Renamed"}).status_code == 302
    assert list(conn.shared_with.all()) == [b]  # the agency's sharing is kept
