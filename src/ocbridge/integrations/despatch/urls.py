"""Despatch Cloud pages mounted by the project under /despatch/."""

from django.urls import path

from ocbridge.integrations.despatch import views

app_name = "despatch"
urlpatterns = [
    path("<int:integration_pk>/", views.fulfilment, name="overview"),
    path("<int:integration_pk>/retry/<int:order_id>/", views.retry, name="retry"),
    path("<int:integration_pk>/stock/sync/", views.sync_stock, name="stock-sync"),
    path("<int:integration_pk>/test/", views.test_connection, name="test"),
]
