"""OneBox pages mounted by the project under /onebox/."""

from django.urls import path

from ocbridge.integrations.onebox import views

app_name = "onebox"
urlpatterns = [
    path("<int:integration_pk>/", views.overview, name="overview"),
    path("<int:integration_pk>/retry/<str:kind>/<str:local_id>/", views.retry, name="retry"),
    path("<int:integration_pk>/dismiss/<str:kind>/<str:local_id>/", views.dismiss, name="dismiss"),
    path("<int:integration_pk>/load/<str:kind>/", views.start_load, name="load"),
    path("<int:integration_pk>/test/", views.test_connection, name="test"),
]
