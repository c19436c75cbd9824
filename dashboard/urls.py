from django.urls import path, register_converter

from dashboard import views
from dashboard.converters import CampaignIdConverter, IdConverter

register_converter(IdConverter, "id")
register_converter(CampaignIdConverter, "campaign")

app_name = "dashboard"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("campaigns/", views.campaigns, name="campaigns"),
    path("campaigns/<id:connection_id>/<campaign:campaign_id>/", views.campaign, name="campaign"),
    path("email/", views.email, name="email"),
    path("pipeline/", views.pipeline, name="pipeline"),
    path("funnel/", views.funnel, name="funnel"),
    path("target-accounts/", views.accounts, name="accounts"),
    path("sync/", views.sync_health, name="sync_health"),
    path("sync/runs/<id:sync_run_id>/cancel/", views.sync_run_cancel, name="sync_run_cancel"),
    path("export/<slug:table>.csv", views.export_csv, name="export_csv"),
    path("connections/new/", views.connect_choose, name="connect_choose"),
    path("connections/new/<slug:platform>/", views.connect_platform, name="connect_platform"),
    path("connections/oauth/callback/", views.oauth_callback, name="oauth_callback"),
    path(
        "connections/<id:connection_id>/reconnect/", views.connection_reconnect, name="connection_reconnect"
    ),
    path("connections/<id:connection_id>/sync/", views.connection_sync_now, name="connection_sync_now"),
    path(
        "connections/<id:connection_id>/restatement-window/",
        views.connection_restatement_window,
        name="connection_restatement_window",
    ),
]
