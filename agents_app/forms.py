from django import forms

from agents_app.models import Agent
from agents_app.prompts import EXAMPLES


class AgentCreateForm(forms.Form):
    name = forms.CharField(max_length=120)
    provider = forms.ChoiceField(choices=Agent.Provider.choices, initial=Agent.Provider.KNOWLEDGE_BASE)
    example = forms.ChoiceField(
        label="Start from",
        required=False,
        choices=[("", "The WhatsApp style guide only")] + [(key, label) for key, (label, _) in EXAMPLES.items()],
    )


class AgentSettingsForm(forms.ModelForm):
    api_key = forms.CharField(
        label="API key",
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Stored encrypted and never shown again. Leave empty to keep the current key.",
    )
    clear_api_key = forms.BooleanField(label="Remove the stored API key", required=False)
    base_url = forms.URLField(
        label="Base URL",
        required=False,
        assume_scheme="https",
        help_text="For OpenAI-compatible servers (Ollama, vLLM, gateways) and Azure OpenAI (your resource's "
        "endpoint, https://<resource>.openai.azure.com); empty for the provider's own.",
    )

    class Meta:
        model = Agent
        fields = [
            "name",
            "instructions",
            "provider",
            "model",
            "base_url",
            "api_version",
            "region",
            "project_id",
            "monthly_budget",
            "temperature",
            "max_output_tokens",
            "request_timeout_seconds",
            "target_chars",
            "max_messages_per_turn",
            "use_emoji",
            "history_messages",
            "debounce_seconds",
            "max_concurrent_turns",
            "model_calls_per_conversation_hour",
            "model_calls_per_contact_day",
            "prompt_token_budget",
            "handoff_keywords",
            "fallback_message",
            "window_closed_template",
            "window_closed_template_language",
            "window_closed_template_parameters",
        ]
        widgets = {"instructions": forms.Textarea(attrs={"rows": 12})}


class KnowledgeForm(forms.Form):
    title = forms.CharField(label="Question", max_length=200)
    body = forms.CharField(label="Answer", widget=forms.Textarea(attrs={"rows": 3}))


class KnowledgeDocumentForm(forms.Form):
    document = forms.FileField(help_text="A .txt or .md file, up to 2 MB.")


class HttpToolForm(forms.Form):
    name = forms.CharField(max_length=64, help_text="What the model calls it, e.g. order_status.")
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), help_text="When should the agent use it?")
    method = forms.ChoiceField(choices=[(m, m) for m in ("GET", "POST", "PUT", "PATCH", "DELETE")])
    url_template = forms.CharField(
        label="URL",
        max_length=2000,
        help_text="e.g. https://shop.example/api/orders/{order_id}. {customer.wa_id} and {customer.user_id} take "
        "the conversation's customer, never a value the model chooses. A successful JSON answer may also update the "
        'customer the agent is talking to: {"set_contact_attributes": {"plan": "gold"}, "add_contact_tags": '
        '["vip"], "remove_contact_tags": ["lead"]} (null removes an attribute). The agent sees those attributes '
        "and tags in its next turns.",
    )
    parameters = forms.JSONField(
        required=False, initial=dict, help_text='A JSON schema, e.g. {"type": "object", "properties": {...}}.'
    )
    headers = forms.JSONField(
        required=False,
        help_text='e.g. {"Authorization": "Bearer …"}. Stored encrypted, never shown again.',
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    timeout_seconds = forms.IntegerField(min_value=1, max_value=30, initial=10)
