import json

from django import forms
from django.contrib import admin

from agents_app.forms import HttpToolForm
from agents_app.models import Agent, AgentRun, HttpTool, KnowledgeEntry, ModelPrice, WorkspaceModelBudget
from agents_app.tools import http_tool_validate
from whatsapp_platform.admin_display import encrypted_fields, json_block
from whatsapp_platform.errors import InvalidInput
from workspaces_app.admin_scoping import AuditedAdmin, WorkspaceScopedAdmin


class _WriteOnlyTextarea(forms.Textarea):
    def format_value(self, value):
        return None  # not even the text just typed comes back when the form shows an error


class AgentAdminForm(forms.ModelForm):
    # Write-only: the stored LLM key is never put back into the page.
    new_api_key = forms.CharField(
        label="API key",
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Stored encrypted and never shown again; leave empty to keep the current key.",
    )
    clear_api_key = forms.BooleanField(label="Remove the stored API key", required=False)

    class Meta:
        model = Agent
        fields = [f.name for f in Agent._meta.fields if f.editable and f.name not in ("id", *encrypted_fields(Agent))]

    def save(self, commit=True):
        if self.cleaned_data.get("clear_api_key"):
            self.instance.api_key = ""
        elif self.cleaned_data.get("new_api_key"):
            self.instance.api_key = self.cleaned_data["new_api_key"].strip()
        return super().save(commit=commit)


class KnowledgeEntryInline(admin.StackedInline):
    model = KnowledgeEntry
    extra = 0
    fields = ["kind", "title", "body"]


@admin.register(Agent)
class AgentAdmin(WorkspaceScopedAdmin):
    form = AgentAdminForm
    list_display = ["name", "workspace", "provider", "model", "has_api_key", "updated_at"]
    list_filter = ["provider"]
    list_select_related = ["workspace"]
    search_fields = ["name"]
    readonly_fields = ["public_id", "has_api_key", "created_at", "updated_at"]
    inlines = [KnowledgeEntryInline]

    @admin.display(description="API key set", boolean=True)
    def has_api_key(self, obj) -> bool:
        return bool(obj.api_key)


@admin.register(KnowledgeEntry)
class KnowledgeEntryAdmin(WorkspaceScopedAdmin):
    workspace_lookup = "agent__workspace_id"
    list_display = ["title", "agent", "kind", "updated_at"]
    list_filter = ["kind"]
    list_select_related = ["agent"]
    search_fields = ["title", "body", "agent__name"]
    readonly_fields = ["created_at", "updated_at"]


@admin.register(AgentRun)
class AgentRunAdmin(WorkspaceScopedAdmin):
    """Agent turns as recorded: what the model was given, what it answered, tools, tokens, timing. Read-only."""

    list_display = [
        "started_at",
        "agent",
        "conversation",
        "status",
        "response_ms",
        "slow",
        "input_tokens",
        "output_tokens",
        "cost_shown",
        "short_error",
    ]
    list_filter = ["status", "slow", "provider", "started_at"]
    list_select_related = ["agent", "conversation__contact", "conversation__channel"]
    search_fields = ["error", "output", "agent__name", "conversation__contact__profile_name"]
    fields = [
        "workspace",
        "agent",
        "conversation",
        "status",
        "provider",
        "model",
        "started_at",
        "finished_at",
        "response_ms",
        "model_latency_ms",
        "slow",
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
        "cost_shown",
        "error",
        "output",
        "trigger_message_ids",
        "prompt_pretty",
        "tool_calls_pretty",
    ]
    readonly_fields = fields

    @admin.display(description="Cost")
    def cost_shown(self, obj) -> str:
        if obj.cost is None:
            return "no price set"
        return f"{obj.cost} {obj.cost_currency}".strip()

    @admin.display(description="Error")
    def short_error(self, obj) -> str:
        return (obj.error or "")[:120]

    @admin.display(description="Prompt")
    def prompt_pretty(self, obj) -> str:
        return json_block(obj.prompt)

    @admin.display(description="Tool calls")
    def tool_calls_pretty(self, obj) -> str:
        return json_block(obj.tool_calls)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


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
        # The same help as the console's form: what a tool's answer may do to the customer's record.
        help_texts = {"url_template": HttpToolForm.base_fields["url_template"].help_text}

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


@admin.register(ModelPrice)
class ModelPriceAdmin(AuditedAdmin):
    """The price table turns are costed from (agents_app/costs.py); shared by every workspace."""

    list_display = [
        "provider",
        "model_prefix",
        "input_per_million",
        "output_per_million",
        "cached_input_per_million",
        "cache_write_per_million",
        "currency",
        "updated_at",
    ]
    list_filter = ["provider", "currency"]
    search_fields = ["model_prefix"]
    readonly_fields = ["updated_at"]


@admin.register(WorkspaceModelBudget)
class WorkspaceModelBudgetAdmin(WorkspaceScopedAdmin):
    list_display = ["workspace", "monthly_budget", "currency", "updated_at"]
    list_select_related = ["workspace"]
    readonly_fields = ["updated_at"]
