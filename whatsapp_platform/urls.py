from allauth.account.decorators import secure_admin_login
from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from agents_app import api as agents_api
from agents_app import views as agents_views
from channels_app import api as channels_api
from channels_app import views as channels_views
from channels_app import webhook_views
from messaging_app import views as messaging_views
from whatsapp_platform import health
from workspaces_app import api as workspaces_api
from workspaces_app import views as workspaces_views

# The admin signs in through allauth: same rate limits, same MFA.
admin.site.login = secure_admin_login(admin.site.login)
admin.site.site_header = "WhatsApp Agent Platform"
admin.site.site_title = "WhatsApp Agent Platform admin"

api_v1 = [
    path("schema/", SpectacularAPIView.as_view(), name="api_schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api_schema"), name="api_docs"),
    path("workspace/", workspaces_api.WorkspaceDetailApi.as_view(), name="api_workspace"),
    path("channels/", channels_api.ChannelListApi.as_view(), name="api_channel_list"),
    path("channels/<uuid:channel_id>/", channels_api.ChannelDetailApi.as_view(), name="api_channel_detail"),
    path(
        "channels/<uuid:channel_id>/deactivate/",
        channels_api.ChannelDeactivateApi.as_view(),
        name="api_channel_deactivate",
    ),
    path(
        "channels/<uuid:channel_id>/test-message/",
        channels_api.ChannelTestMessageApi.as_view(),
        name="api_channel_test_message",
    ),
    path("agents/", agents_api.AgentListApi.as_view(), name="api_agent_list"),
    path("agents/<uuid:agent_id>/", agents_api.AgentDetailApi.as_view(), name="api_agent_detail"),
    path("agents/<uuid:agent_id>/knowledge/", agents_api.AgentKnowledgeApi.as_view(), name="api_agent_knowledge"),
    path("agents/<uuid:agent_id>/tools/", agents_api.AgentToolListApi.as_view(), name="api_agent_tools"),
    path(
        "agents/<uuid:agent_id>/tools/<int:tool_id>/",
        agents_api.AgentToolDetailApi.as_view(),
        name="api_agent_tool_detail",
    ),
    path(
        "agents/<uuid:agent_id>/knowledge/<int:entry_id>/",
        agents_api.AgentKnowledgeEntryApi.as_view(),
        name="api_agent_knowledge_entry",
    ),
]

workspace_console = [
    path("", workspaces_views.workspace_overview, name="workspace_overview"),
    path("channels/", channels_views.channel_list, name="channel_list"),
    path("channels/new/", channels_views.channel_create, name="channel_create"),
    path("channels/<uuid:channel_id>/", channels_views.channel_detail, name="channel_detail"),
    path(
        "channels/<uuid:channel_id>/settings/", channels_views.channel_settings_update, name="channel_settings_update"
    ),
    path(
        "channels/<uuid:channel_id>/embedded-signup/",
        channels_views.channel_embedded_signup,
        name="channel_embedded_signup",
    ),
    path(
        "channels/<uuid:channel_id>/manual-connect/",
        channels_views.channel_manual_connect,
        name="channel_manual_connect",
    ),
    path("channels/<uuid:channel_id>/test-message/", channels_views.channel_test_message, name="channel_test_message"),
    path("channels/<uuid:channel_id>/live/", channels_views.channel_live_status, name="channel_live_status"),
    path("channels/<uuid:channel_id>/profile/", channels_views.channel_profile, name="channel_profile"),
    path("channels/<uuid:channel_id>/deactivate/", channels_views.channel_deactivate, name="channel_deactivate"),
    path("channels/<uuid:channel_id>/delete/", channels_views.channel_delete, name="channel_delete"),
    path("agents/", agents_views.agent_list, name="agent_list"),
    path("agents/new/", agents_views.agent_create, name="agent_create"),
    path("agents/<uuid:agent_id>/", agents_views.agent_detail, name="agent_detail"),
    path("agents/<uuid:agent_id>/settings/", agents_views.agent_settings_update, name="agent_settings_update"),
    path("agents/<uuid:agent_id>/knowledge/", agents_views.agent_knowledge_add, name="agent_knowledge_add"),
    path("agents/<uuid:agent_id>/tools/", agents_views.agent_tool_add, name="agent_tool_add"),
    path(
        "agents/<uuid:agent_id>/tools/<int:tool_id>/remove/", agents_views.agent_tool_remove, name="agent_tool_remove"
    ),
    path(
        "agents/<uuid:agent_id>/knowledge/<int:entry_id>/remove/",
        agents_views.agent_knowledge_remove,
        name="agent_knowledge_remove",
    ),
    path("inbox/", messaging_views.inbox, name="inbox"),
    path("templates/", channels_views.template_list, name="template_list"),
    path("analytics/", messaging_views.analytics, name="analytics"),
    path("settings/", workspaces_views.workspace_settings, name="workspace_settings"),
    path("settings/update/", workspaces_views.workspace_settings_update, name="workspace_settings_update"),
    path("settings/invitations/", workspaces_views.invitation_create, name="invitation_create"),
    path(
        "settings/invitations/<int:invitation_id>/revoke/",
        workspaces_views.invitation_revoke,
        name="invitation_revoke",
    ),
    path("settings/members/<int:membership_id>/", workspaces_views.membership_update, name="membership_update"),
    path("settings/api-keys/", workspaces_views.api_key_create, name="api_key_create"),
    path("settings/api-keys/<uuid:key_id>/revoke/", workspaces_views.api_key_revoke, name="api_key_revoke"),
]

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("webhooks/whatsapp/", webhook_views.meta_app_webhook, name="webhook_meta_app"),
    path("webhooks/whatsapp/<uuid:channel_id>/", webhook_views.channel_webhook, name="webhook_channel"),
    path("accounts/", include("allauth.urls")),
    path("api/v1/", include(api_v1)),
    path("invitations/<str:token>/", workspaces_views.invitation_accept, name="invitation_accept"),
    path("w/<slug:workspace_slug>/", include(workspace_console)),
    path("", workspaces_views.console_home, name="console_home"),
]

if settings.WHATSAPP_EMULATOR_ENABLED:
    urlpatterns.insert(0, path("emulator/", include("cloudapi_emulator.urls")))
    # The sandbox phone: a console page, so it lives under the workspace's URLs.
    urlpatterns.insert(
        0,
        path("w/<slug:workspace_slug>/channels/<uuid:channel_id>/sandbox/", include("cloudapi_emulator.sandbox_urls")),
    )
