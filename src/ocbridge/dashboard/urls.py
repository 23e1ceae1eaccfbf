"""Dashboard URLs (namespace "dashboard"). Every page needs a logged-in user; only login, assets and the
one-time set-password link do not. What a user sees of a store is decided by core.access (per-store roles)."""

from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from ocbridge.dashboard.login import ThrottledLoginView
from ocbridge.dashboard.views import (
    alerts,
    confirmations,
    exchanges,
    integrations,
    jobs,
    mail,
    members,
    optouts,
    overview,
    phones,
    spending,
    stores,
    two_factor,
    whatsapp,
)

app_name = "dashboard"
urlpatterns = [
    path("login/", ThrottledLoginView.as_view(template_name="dashboard/login.html", redirect_authenticated_user=True),
         name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("account/two-factor/", two_factor.two_factor_page, name="two-factor"),
    path("account/two-factor/verify/", two_factor.two_factor_verify, name="two-factor-verify"),
    path("assets/<str:name>", overview.asset, name="asset"),
    path("", overview.home, name="home"),
    path("stores/", stores.store_list, name="stores"),
    path("stores/add/", stores.store_edit, name="store-add"),
    path("stores/<int:pk>/", stores.store_detail, name="store"),
    path("stores/<int:pk>/edit/", stores.store_edit, name="store-edit"),
    path("stores/<int:pk>/test/", stores.store_test, name="store-test"),
    path("stores/<int:store_pk>/users/", members.member_list, name="members"),
    path("stores/<int:store_pk>/users/<int:pk>/remove/", members.member_remove, name="member-remove"),
    path("stores/<int:store_pk>/users/<int:pk>/link/", members.member_link, name="member-link"),
    path("password/set/<uidb64>/<token>/", auth_views.PasswordResetConfirmView.as_view(
        template_name="dashboard/password_set.html", success_url=reverse_lazy("dashboard:login"),
        post_reset_login=False), name="password-set"),
    path("stores/<int:store_pk>/mail-test/", mail.mail_test, name="mail-test"),
    path("stores/<int:store_pk>/do-not-contact/", optouts.optout_list, name="optouts"),
    path("stores/<int:store_pk>/spending/", spending.spending, name="spending"),
    path("do-not-contact/", optouts.optout_list, name="optouts-hub"),
    path("do-not-contact/<int:pk>/remove/", optouts.optout_remove, name="optout-remove"),
    path("stores/<int:store_pk>/connections/add/", stores.connection_edit, name="connection-add"),
    path("connections/<int:pk>/edit/", stores.connection_edit, name="connection-edit"),
    path("connections/<int:pk>/test/", stores.connection_test, name="connection-test"),
    path("connections/<int:pk>/whatsapp/", whatsapp.whatsapp_templates, name="whatsapp-templates"),
    path("stores/<int:store_pk>/integrations/<slug:kind>/", integrations.integration_settings, name="integration"),
    path("stores/<int:store_pk>/integrations/<slug:kind>/test-message/", integrations.integration_test_message,
         name="integration-test"),
    path("log/", exchanges.exchange_list, name="exchanges"),
    path("log/export.csv", exchanges.exchange_csv, name="exchanges-csv"),
    path("log/<int:pk>/", exchanges.exchange_detail, name="exchange"),
    path("confirmations/", confirmations.confirmation_list, name="confirmations"),
    path("confirmations/<int:pk>/", confirmations.confirmation_detail, name="confirmation"),
    path("confirmations/<int:pk>/act/", confirmations.confirmation_act, name="confirmation-act"),
    path("confirmations/<int:pk>/phone/", confirmations.confirmation_phone, name="confirmation-phone"),
    path("confirmations/bulk/", confirmations.confirmation_bulk, name="confirmations-bulk"),
    path("phones/<str:phone>/", phones.phone_history, name="phone"),
    path("alerts/", alerts.alert_routes, name="alerts"),
    path("alerts/<int:pk>/remove/", alerts.alert_route_remove, name="alert-remove"),
    path("alerts/<int:pk>/test/", alerts.alert_route_test, name="alert-test"),
    path("jobs/", jobs.job_list, name="jobs"),
    path("jobs/probe/", jobs.worker_probe, name="worker-probe"),
    path("jobs/<int:pk>/", jobs.job_detail, name="job"),
    path("jobs/<int:pk>/retry/", jobs.job_retry, name="job-retry"),
]
