"""Outreach URLs, included by whatsapp_platform/urls.py: console pages under /w/<workspace>/, and the API."""

from django.urls import path

from outreach_app import api, views

console_urlpatterns = [
    path("campaigns/", views.campaign_list, name="campaign_list"),
    path("campaigns/<uuid:campaign_id>/", views.campaign_detail, name="campaign_detail"),
    path("campaigns/<uuid:campaign_id>/funnel/", views.campaign_funnel, name="campaign_funnel"),
    path("campaigns/<uuid:campaign_id>/import/", views.campaign_import, name="campaign_import"),
    path("campaigns/<uuid:campaign_id>/launch/", views.campaign_launch, name="campaign_launch"),
    path("campaigns/<uuid:campaign_id>/pause/", views.campaign_pause, name="campaign_pause"),
    path("campaigns/<uuid:campaign_id>/resume/", views.campaign_resume, name="campaign_resume"),
    path("campaigns/<uuid:campaign_id>/cancel/", views.campaign_cancel, name="campaign_cancel"),
    path("campaigns/<uuid:campaign_id>/export.csv", views.campaign_export, name="campaign_export"),
    path("campaigns/welcome/<uuid:channel_id>/", views.welcome_update, name="welcome_update"),
    path("scheduled/", views.scheduled_list, name="scheduled_list"),
    path("scheduled/<uuid:scheduled_id>/cancel/", views.scheduled_cancel, name="scheduled_cancel"),
    path("scheduled/<uuid:scheduled_id>/reschedule/", views.scheduled_reschedule, name="scheduled_reschedule"),
]

api_urlpatterns = [
    path("campaigns/", api.CampaignListApi.as_view(), name="api_campaign_list"),
    path("campaigns/<uuid:campaign_id>/", api.CampaignDetailApi.as_view(), name="api_campaign_detail"),
    path(
        "campaigns/<uuid:campaign_id>/recipients/",
        api.CampaignRecipientsImportApi.as_view(),
        name="api_campaign_recipients_import",
    ),
    path("campaigns/<uuid:campaign_id>/preview/", api.CampaignPreviewApi.as_view(), name="api_campaign_preview"),
    path("campaigns/<uuid:campaign_id>/launch/", api.CampaignLaunchApi.as_view(), name="api_campaign_launch"),
    path("campaigns/<uuid:campaign_id>/pause/", api.CampaignPauseApi.as_view(), name="api_campaign_pause"),
    path("campaigns/<uuid:campaign_id>/resume/", api.CampaignResumeApi.as_view(), name="api_campaign_resume"),
    path("campaigns/<uuid:campaign_id>/cancel/", api.CampaignCancelApi.as_view(), name="api_campaign_cancel"),
    path("campaigns/<uuid:campaign_id>/export/", api.CampaignExportApi.as_view(), name="api_campaign_export"),
    path("scheduled-messages/", api.ScheduledMessageListApi.as_view(), name="api_scheduled_message_list"),
    path(
        "scheduled-messages/<uuid:scheduled_id>/",
        api.ScheduledMessageDetailApi.as_view(),
        name="api_scheduled_message_detail",
    ),
]
