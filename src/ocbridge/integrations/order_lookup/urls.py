"""Order lookup pages, mounted by the project under /order-lookup/."""

from django.urls import path

from ocbridge.integrations.order_lookup import views

app_name = "order_lookup"
urlpatterns = [
    path("calls/", views.calls, name="calls"),
]
