"""URL wiring only."""

from django.contrib import admin
from django.urls import include, path

from ocbridge.core.static import static_file
from ocbridge.core.webhooks import webhook
from ocbridge.integrations.cod_confirm import customer_page
from ocbridge.integrations.payments import views as pay_views
from ocbridge.opencart import push

urlpatterns = [
    path("order-lookup/", include("ocbridge.integrations.order_lookup.urls")),
    path("ozon/", include("ocbridge.integrations.ozon.urls")),
    path("despatch/", include("ocbridge.integrations.despatch.urls")),
    path("payments/", include("ocbridge.integrations.payments.urls")),
    path("pay/checkout/<int:store_pk>/<int:order_id>/<int:ts>/<str:sig>/", pay_views.pay_checkout, name="pay-checkout"),
    path("push/<int:store_pk>/<int:order_id>/<int:ts>/<str:sig>/", push.receive, name="opencart-push"),
    path("pay/<str:token>/", pay_views.pay, name="pay"),
    path("pay/<str:token>/return", pay_views.pay_return, name="pay-return"),
    path("pay/<str:token>/card", pay_views.pay_card, name="pay-card"),
    path("pay/<str:token>/card/wait", pay_views.pay_card_wait, name="pay-card-wait"),
    path("pay/<str:token>/again", pay_views.pay_retry, name="pay-retry"),
    path("a/<str:token>/", customer_page.address_page, name="cod-address"),
    path("onebox/", include("ocbridge.integrations.onebox.urls")),
    path("admin/", admin.site.urls),
    path("static/<path:path>", static_file, name="static"),
    path("hooks/<str:service>/<str:token>/<str:hook>", webhook, name="webhook"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("ocbridge.dashboard.urls")),
]
