"""Ozon pages mounted by the project under /ozon/."""

from django.urls import path

from ocbridge.integrations.ozon import views

app_name = "ozon"
urlpatterns = [
    path("<int:integration_pk>/", views.overview, name="overview"),
    path("<int:integration_pk>/products/", views.products, name="products"),
    path("<int:integration_pk>/orders/", views.orders, name="orders"),
    path("<int:integration_pk>/orders/<int:binding_pk>/tracking/", views.set_tracking, name="tracking"),
    path("<int:integration_pk>/mapping/", views.mapping, name="mapping"),
    path("<int:integration_pk>/sync/", views.sync_now, name="sync"),
    path("<int:integration_pk>/test/", views.test_connection, name="test"),
]
