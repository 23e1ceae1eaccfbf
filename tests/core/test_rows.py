"""core.rows writes the hot paths' rows as Model.save() and QuerySet.update() would, for models nothing listens to."""

import datetime as dt

import pytest
from django.apps import apps
from django.db.models import signals
from django.forms.models import model_to_dict

from ocbridge.core import rows
from ocbridge.core.models import Exchange, Job, Store

pytestmark = pytest.mark.django_db


def _values(obj) -> dict:
    row = type(obj).objects.get(pk=obj.pk)
    return {f.attname: getattr(row, f.attname) for f in type(obj)._meta.concrete_fields if not f.primary_key}


def test_an_insert_stores_what_save_stores_and_update_what_update_changes():
    store = Store.objects.create(name="s")
    job = Job(kind="k", key="a", store=store, payload={"exchange_id": 7, "ü": ["ş", 1.5, None]},
              next_run_at=dt.datetime(2026, 1, 2, 3, 4, 5, 6000, tzinfo=dt.timezone.utc))
    twin = Job(**{f.attname: getattr(job, f.attname) for f in Job._meta.concrete_fields if not f.primary_key})
    twin.key = "b"
    rows.insert(job)
    twin.save()
    assert job.pk and not job._state.adding and job.pk != twin.pk
    assert {**_values(job), "key": "b"} == _values(twin)
    ex = rows.insert(Exchange(service="sandbox", direction="in", store=store, job=job, url="/hooks/x",
                              request_headers={"A": "b"}, request_body="{}", outcome="pending"))
    ex.status, ex.error, ex.response_body, ex.order_id = 200, "é", "OK", 12
    assert rows.update(ex, ("status", "error", "response_body", "order_id")) == 1
    got = Exchange.objects.get(pk=ex.pk)
    assert (got.status, got.error, got.response_body, got.order_id, got.job_id, got.request_headers) == \
        (200, "é", "OK", 12, job.pk, {"A": "b"})
    assert model_to_dict(got)["store"] == store.pk
    Exchange.objects.filter(pk=ex.pk).delete()
    assert rows.update(ex, ("status",)) == 0  # the row is gone: the caller inserts it again


def test_nothing_listens_to_the_models_written_this_way():
    for label in rows.HOT_MODELS:
        model = apps.get_model(label)
        for signal in (signals.pre_save, signals.post_save, signals.pre_init, signals.post_init):
            assert not signal.has_listeners(model), f"{label} has {signal} receivers: core.rows would skip them"


def test_a_repeated_key_inserts_nothing_and_leaves_the_transaction_usable():
    from django.db import transaction

    with transaction.atomic():
        first = Job.objects.enqueue("cod_confirm.apply_call_result", key="k1")
        assert rows.insert_unless_exists(Job(kind="x", key="k1"), ("key",)) is None
        again = Job.objects.enqueue("cod_confirm.apply_call_result", key="k1", payload={"other": 1})
        assert again.pk == first.pk and again.payload == {}
        assert Job.objects.count() == 1  # the transaction goes on after the refused insert
        assert rows.insert_unless_exists(Job(kind="x", key="k2"), ("key",)).pk
    assert sorted(Job.objects.values_list("key", flat=True)) == ["k1", "k2"]


def test_new_makes_the_instance_the_model_makes():
    """rows.new (a webhook's Exchange without Model.__init__) leaves every field as Model(**values) does: the given
    values, the defaults (a fresh dict each for JSON fields, the time now for `created` when not given), a new state."""
    from ocbridge.core import clock

    values = dict(service="sandbox", direction="in", purpose="sandbox.call-result", method="POST", url="/hooks/x",
                  request_headers={"A": "b"}, request_body="{}", outcome="pending", store_id=3, connection_id=4)
    before = clock.now()
    ours, django = rows.new(Exchange, **values), Exchange(**values)
    assert ours.created >= before and ours.created.tzinfo is not None
    ours.created = django.created
    mine = {k: v for k, v in ours.__dict__.items() if k != "_state"}
    assert mine == {k: v for k, v in django.__dict__.items() if k != "_state"}
    assert (ours._state.adding, ours._state.db, ours._state.fields_cache) == (True, None, {})
    assert ours.response_headers == {} and ours.response_headers is not rows.new(Exchange).response_headers
    with pytest.raises(TypeError):
        rows.new(Exchange, store=None)  # by attname only: a relation goes through rows.relate


def test_a_requests_headers_are_read_as_django_reads_them():
    """core.exchanges.request_headers gives `dict(request.headers.items())`: names, values and order."""
    from django.test import RequestFactory

    from ocbridge.core.exchanges import request_headers

    request = RequestFactory().post("/hooks/x", data=b"{}", content_type="application/json",
                                    HTTP_X_SANDBOX_SIGNATURE="sha256=ab", HTTP_ACCEPT_ENCODING="gzip",
                                    HTTP_CONTENT_TYPE="text/plain", HTTP_X_WEIRD__NAME="1", HTTP_X_MIXED_case="2")
    request.META["lower_case"] = "not a header"
    assert list(request_headers(request.META).items()) == list(request.headers.items())
