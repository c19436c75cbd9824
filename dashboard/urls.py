from django.urls import path

from dashboard import views

app_name = "dashboard"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("connections/<int:connection_id>/sync/", views.connection_sync_now, name="connection_sync_now"),
]
