import json

from django import forms
from django.contrib import admin

from agents_app.models import Agent, HttpTool
from agents_app.tools import http_tool_validate
from whatsapp_platform.errors import InvalidInput
from workspaces_app.admin_scoping import WorkspaceScopedAdmin


@admin.register(Agent)
class AgentAdmin(WorkspaceScopedAdmin):
    list_display = ["name", "workspace", "provider", "model", "updated_at"]
    list_filter = ["provider"]
    search_fields = ["name"]
    readonly_fields = ["public_id", "created_at", "updated_at"]


class _WriteOnlyTextarea(forms.Textarea):
    def format_value(self, value):
        return None  # not even the text just typed comes back when the form shows an error


class HttpToolAdminForm(forms.ModelForm):
    # Write-only: the stored headers (API keys) are never put back into the page.
    new_headers = forms.CharField(
        label="Headers",
        required=False,
        widget=_WriteOnlyTextarea(attrs={"rows": 3}),
        help_text='A JSON object, e.g. {"Authorization": "Bearer …"}. Stored encrypted and never shown again; '
        "leave empty to keep the current headers.",
    )
    clear_headers = forms.BooleanField(label="Remove the stored headers", required=False)

    class Meta:
        model = HttpTool
        fields = ["agent", "name", "description", "method", "url_template", "parameters", "timeout_seconds", "enabled"]

    def _post_clean(self):
        super()._post_clean()
        if self.errors:
            return
        text = self.cleaned_data.get("new_headers", "").strip()
        if self.cleaned_data.get("clear_headers"):
            self.instance.headers = ""
        elif text:
            self.instance.headers = text
        try:
            http_tool_validate(tool=self.instance)
        except InvalidInput as exc:
            field = {"headers": "new_headers"}.get(exc.field, exc.field)
            self.add_error(field if field in self.fields else None, exc.message)
            return
        if text and not self.cleaned_data.get("clear_headers"):
            self.instance.headers = json.dumps(json.loads(text))  # stored compact, whatever the spacing typed


@admin.register(HttpTool)
class HttpToolAdmin(WorkspaceScopedAdmin):
    workspace_lookup = "agent__workspace_id"
    form = HttpToolAdminForm
    list_display = ["name", "agent", "method", "url_template", "enabled", "updated_at"]
    list_filter = ["enabled", "method"]
    search_fields = ["name", "agent__name"]
    list_select_related = ["agent"]
    readonly_fields = ["header_names", "created_at", "updated_at"]

    @admin.display(description="Stored headers")
    def header_names(self, obj) -> str:
        # Names only: the values are secrets.
        try:
            headers = json.loads(obj.headers or "{}")
        except ValueError:
            headers = None
        if not isinstance(headers, dict):
            return "unreadable"
        return ", ".join(sorted(headers)) or "none"
