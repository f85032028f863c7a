"""Audit log URLs, included by whatsapp_platform/urls.py: the console page under /w/<workspace>/, and the API."""

from django.urls import path

from audit_app import api, views

console_urlpatterns = [
    path("settings/audit-log/", views.audit_log, name="audit_log"),
]

api_urlpatterns = [
    path("audit-log/", api.AuditLogApi.as_view(), name="api_audit_log"),
]
