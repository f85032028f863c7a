from allauth.account.decorators import secure_admin_login
from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from agents_app import api as agents_api
from agents_app import views as agents_views
from analytics_app import urls as analytics_urls
from analytics_app import views as analytics_views
from audit_app import urls as audit_urls
from channels_app import api as channels_api
from channels_app import views as channels_views
from channels_app import webhook_views
from events_app import urls as events_urls
from messaging_app import api as messaging_api
from messaging_app import contact_views, contacts_api, conversations_api, inbox_views, troubleshooting_views
from messaging_app import views as messaging_views
from outreach_app.urls import api_urlpatterns as outreach_api
from outreach_app.urls import console_urlpatterns as outreach_console
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
    path(
        "channels/<uuid:channel_id>/business-hours/",
        messaging_api.ChannelBusinessHoursApi.as_view(),
        name="api_channel_business_hours",
    ),
    path("templates/", channels_api.TemplateListApi.as_view(), name="api_template_list"),
    path("templates/sync/", channels_api.TemplateSyncApi.as_view(), name="api_template_sync"),
    path("templates/<uuid:template_id>/", channels_api.TemplateDetailApi.as_view(), name="api_template_detail"),
    path("templates/<uuid:template_id>/send/", channels_api.TemplateSendApi.as_view(), name="api_template_send"),
    path("conversations/", conversations_api.ConversationListApi.as_view(), name="api_conversation_list"),
    path(
        "conversations/<int:conversation_id>/",
        conversations_api.ConversationDetailApi.as_view(),
        name="api_conversation_detail",
    ),
    path(
        "conversations/<int:conversation_id>/messages/",
        conversations_api.ConversationMessagesApi.as_view(),
        name="api_conversation_messages",
    ),
    *[
        path(
            f"conversations/<int:conversation_id>/{action}/",
            conversations_api.ConversationActionApi.as_view(action=action),
            name=f"api_conversation_{action.replace('-', '_')}",
        )
        for action in ("take-over", "hand-back", "assign", "close")
    ],
    path("messages/", conversations_api.MessageSendApi.as_view(), name="api_message_send"),
    path("contacts/", contacts_api.ContactListApi.as_view(), name="api_contact_list"),
    path("contacts/<int:contact_id>/", contacts_api.ContactDetailApi.as_view(), name="api_contact_detail"),
    path("contacts/<int:contact_id>/export/", contacts_api.ContactExportApi.as_view(), name="api_contact_export"),
    path("contacts/<int:contact_id>/erase/", contacts_api.ContactEraseApi.as_view(), name="api_contact_erase"),
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
api_v1 += outreach_api  # campaigns, scheduled messages
api_v1 += events_urls.api_urlpatterns  # webhook subscriptions
api_v1 += audit_urls.api_urlpatterns  # audit log (read-only)

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
    path(
        "channels/<uuid:channel_id>/business-hours/",
        messaging_views.channel_business_hours,
        name="channel_business_hours",
    ),
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
    path("agents/<uuid:agent_id>/test/", agents_views.agent_test_console, name="agent_test_console"),
    path("agents/<uuid:agent_id>/test/chat/", agents_views.agent_test_chat, name="agent_test_chat"),
    path("agents/<uuid:agent_id>/test/send/", agents_views.agent_test_send, name="agent_test_send"),
    path("agents/<uuid:agent_id>/test/tap/", agents_views.agent_test_tap, name="agent_test_tap"),
    path("agents/<uuid:agent_id>/test/reset/", agents_views.agent_test_reset, name="agent_test_reset"),
    path("agents/<uuid:agent_id>/test/hand-back/", agents_views.agent_test_hand_back, name="agent_test_hand_back"),
    path("messages/<uuid:message_id>/media/", messaging_views.message_media, name="message_media"),
    path("inbox/", inbox_views.inbox, name="inbox"),
    path("inbox/list/", inbox_views.inbox_list, name="inbox_list"),
    path("inbox/<int:conversation_id>/", inbox_views.conversation_detail, name="conversation_detail"),
    path("inbox/<int:conversation_id>/chat/", inbox_views.conversation_chat, name="conversation_chat"),
    path("inbox/<int:conversation_id>/reply/", inbox_views.conversation_reply, name="conversation_reply"),
    path("inbox/<int:conversation_id>/composer/", inbox_views.conversation_composer, name="conversation_composer"),
    path("inbox/<int:conversation_id>/action/", inbox_views.conversation_action, name="conversation_action"),
    path("inbox/<int:conversation_id>/runs/", inbox_views.conversation_runs, name="conversation_runs"),
    path("contacts/", contact_views.contact_list, name="contact_list"),
    path("contacts/<int:contact_id>/", contact_views.contact_detail, name="contact_detail"),
    path("contacts/<int:contact_id>/tags/", contact_views.contact_tags_update, name="contact_tags_update"),
    path(
        "contacts/<int:contact_id>/attributes/",
        contact_views.contact_attributes_update,
        name="contact_attributes_update",
    ),
    path(
        "contacts/<int:contact_id>/marketing/", contact_views.contact_marketing_update, name="contact_marketing_update"
    ),
    path("contacts/<int:contact_id>/block/", contact_views.contact_block_update, name="contact_block_update"),
    path("contacts/<int:contact_id>/export/", contact_views.contact_export, name="contact_export"),
    path("contacts/<int:contact_id>/archive/", contact_views.contact_archive, name="contact_archive"),
    path("contacts/<int:contact_id>/erase/", contact_views.contact_erase, name="contact_erase"),
    path("troubleshooting/", troubleshooting_views.troubleshooting, name="troubleshooting"),
    path("troubleshooting/webhooks/", troubleshooting_views.troubleshooting_webhooks, name="troubleshooting_webhooks"),
    path(
        "troubleshooting/webhooks/<int:event_id>/",
        troubleshooting_views.troubleshooting_webhook_detail,
        name="troubleshooting_webhook_detail",
    ),
    path(
        "troubleshooting/webhooks/<int:event_id>/reprocess/",
        troubleshooting_views.troubleshooting_webhook_reprocess,
        name="troubleshooting_webhook_reprocess",
    ),
    path("troubleshooting/delivery/", troubleshooting_views.troubleshooting_delivery, name="troubleshooting_delivery"),
    path(
        "troubleshooting/delivery/<uuid:message_id>/resend/",
        troubleshooting_views.troubleshooting_message_resend,
        name="troubleshooting_message_resend",
    ),
    path(
        "troubleshooting/agent-runs/",
        troubleshooting_views.troubleshooting_agent_runs,
        name="troubleshooting_agent_runs",
    ),
    path("templates/", channels_views.template_list, name="template_list"),
    path("templates/new/", channels_views.template_create, name="template_create"),
    path("templates/new/examples/", channels_views.template_create_examples, name="template_create_examples"),
    path("templates/sync/", channels_views.template_sync, name="template_sync"),
    path("templates/syncs/<int:sync_id>/", channels_views.template_sync_status, name="template_sync_status"),
    path("templates/picker/", channels_views.template_picker, name="template_picker"),
    path("templates/<uuid:template_id>/", channels_views.template_detail, name="template_detail"),
    path("templates/<uuid:template_id>/send/", channels_views.template_send, name="template_send"),
    path("templates/<uuid:template_id>/delete/", channels_views.template_delete, name="template_delete"),
    path("analytics/", include(analytics_urls.console_urlpatterns)),
    path("settings/", workspaces_views.workspace_settings, name="workspace_settings"),
    path("settings/update/", workspaces_views.workspace_settings_update, name="workspace_settings_update"),
    path("settings/retention/", workspaces_views.workspace_retention_update, name="workspace_retention_update"),
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
workspace_console += outreach_console  # campaigns, scheduled messages, welcome templates
workspace_console += events_urls.console_urlpatterns  # Settings → Webhooks
workspace_console += audit_urls.console_urlpatterns  # Settings → Audit log

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", analytics_views.metrics, name="metrics"),
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
