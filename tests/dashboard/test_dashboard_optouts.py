"""The do-not-contact page: a person adds a number (normalized, audited), sees it, takes it off with a reason —
through core.access: viewers see, operators add, owners take off, other stores' users see nothing."""

import pytest
from django.test import Client

from ocbridge.core.models import AuditEntry, OptOut, StoreMember


def member(store, name: str, role: str) -> Client:
    from django.contrib.auth.models import User

    user = User.objects.create_user(name, password="pw-123456789")
    if role:
        StoreMember.objects.create(store=store, user=user, role=role)
    c = Client()
    c.force_login(user)
    return c


def test_the_owner_adds_a_number_as_the_customer_wrote_it_and_takes_it_off(store):
    store.country = "TR"
    store.save()
    client_in = member(store, "shopowner", "owner")
    url = f"/stores/{store.pk}/do-not-contact/"
    r = client_in.post(url, {"phone": "0532 123 45 67", "scope": "calls", "note": "asked by e-mail"}, follow=True)
    assert r.status_code == 200
    row = OptOut.objects.get()
    assert (row.store, row.phone, row.scope, row.source, row.user) == (
        store, "+905321234567", "calls", "owner", "shopowner")
    assert "+905321234567" in r.content.decode()
    assert AuditEntry.objects.filter(action="optout.add", object_id=str(row.pk), reason="asked by e-mail").exists()

    again = client_in.post(url, {"phone": "+90 532 123 4567", "scope": "calls"}, follow=True)
    assert OptOut.objects.count() == 1 and "already on the list" in again.content.decode()

    no_reason = client_in.post(f"/do-not-contact/{row.pk}/remove/", {"reason": " "}, follow=True)
    assert OptOut.objects.count() == 1 and "Say why" in no_reason.content.decode()
    client_in.post(f"/do-not-contact/{row.pk}/remove/", {"reason": "customer called to undo"})
    assert not OptOut.objects.exists()
    assert AuditEntry.objects.filter(action="optout.remove", reason="customer called to undo").exists()


def test_a_number_that_is_not_a_phone_is_refused_with_the_reason(client_in, store):
    r = client_in.post(f"/stores/{store.pk}/do-not-contact/", {"phone": "12ab", "scope": "all"})
    assert r.status_code == 200 and "not a valid phone number" in r.content.decode()
    assert not OptOut.objects.exists()


def test_the_hub_wide_list_is_for_superusers(client_in, store):
    owner = member(store, "shopowner", "owner")
    assert owner.get("/do-not-contact/").status_code == 403
    assert owner.post("/do-not-contact/", {"phone": "+905321234567", "scope": "all"}).status_code == 403
    client_in.post("/do-not-contact/", {"phone": "+905321234567", "scope": "all"})  # a hub administrator
    row = OptOut.objects.get()
    assert row.store is None
    assert owner.post(f"/do-not-contact/{row.pk}/remove/", {"reason": "x"}).status_code == 404
    page = owner.get(f"/stores/{store.pk}/do-not-contact/").content.decode()
    assert "hub-wide list also applies" in page and "+905321234567" not in page


def test_viewers_see_operators_add_owners_take_off_and_other_stores_see_nothing(store):
    from ocbridge.core import optouts
    from ocbridge.core.models import Store

    other_store = Store.objects.create(name="Other", db_url="mysql+pymysql://oc:pw@db2.example.com/oc")
    row, _ = optouts.add(store, "+905321234567", user="owner")
    url = f"/stores/{store.pk}/do-not-contact/"
    add = {"phone": "+905329998877", "scope": "all"}
    viewer, operator = member(store, "viewer", "viewer"), member(store, "operator", "operator")
    stranger = member(other_store, "stranger", "owner")
    assert "+905321234567" in viewer.get(url).content.decode()
    assert viewer.post(url, add).status_code == 403
    assert operator.post(url, add).status_code == 302 and OptOut.objects.count() == 2
    assert operator.post(f"/do-not-contact/{row.pk}/remove/", {"reason": "x"}).status_code == 403
    assert stranger.get(url).status_code == 404 and stranger.post(url, add).status_code == 404
    assert stranger.post(f"/do-not-contact/{row.pk}/remove/", {"reason": "x"}).status_code == 404
    assert OptOut.objects.filter(pk=row.pk).exists()


def test_the_page_reads_in_turkish(client_in, store):
    page = client_in.get(f"/stores/{store.pk}/do-not-contact/", HTTP_ACCEPT_LANGUAGE="tr").content.decode()
    assert "Aranmayacak numaralar" in page
