"""Payment pages of the dashboard, mounted under /payments/ (the customer's /pay/ pages are in the project's urls)."""

from django.urls import path

from ocbridge.integrations.payments import order_page, views

app_name = "payments"
urlpatterns = [
    path("", views.payment_list, name="list"),
    path("<int:pk>/", views.payment_detail, name="detail"),
    path("<int:pk>/operate/", views.payment_operate, name="operate"),
    path("<int:pk>/check/", views.payment_check, name="check"),
    path("stores/<int:store_pk>/orders/<int:order_id>/", order_page.order_page, name="order"),
    path("stores/<int:store_pk>/link/", views.payment_link, name="link"),
    path("stores/<int:store_pk>/extension/", views.extension_settings, name="extension"),
    path("gateways/<int:integration_pk>/test/", views.gateway_test, name="test"),
]
