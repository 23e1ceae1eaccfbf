"""URL fields read a URL typed without a scheme as https, in every form the hub builds from its models (the admin's
too), so Django 5.2's RemovedInDjango60Warning about the default scheme ("http" → "https") is never raised."""

import warnings

import pytest
from django.apps import apps
from django.contrib.admin.sites import site
from django.db import models
from django.forms import modelform_factory
from django.test import RequestFactory

from ocbridge.core.models import Connection, Store

pytestmark = pytest.mark.django_db


def _url_fields():
    return [f for m in apps.get_models() if m.__module__.startswith("ocbridge.")
            for f in m._meta.get_fields() if isinstance(f, models.URLField)]


def test_every_model_url_field_makes_an_https_form_field_without_a_warning():
    assert {(f.model, f.name) for f in _url_fields()} >= {(Store, "api_url"), (Connection, "base_url")}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for field in _url_fields():
            assert field.formfield().clean("shop.example.com") == "https://shop.example.com", field


def test_the_admins_store_and_connection_forms_build_without_a_warning(admin_user):
    request = RequestFactory().get("/admin/")
    request.user = admin_user
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for model, field in ((Store, "api_url"), (Connection, "base_url")):
            assert site._registry[model].get_form(request).base_fields[field].assume_scheme == "https"
        modelform_factory(Store, fields=["api_url"])  # a model form of our own, as the dashboard's are built
