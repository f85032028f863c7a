"""Console forms for message templates: create (with its examples and buttons) and send (built per template)."""

from django import forms

from channels_app.models import Channel
from channels_app.whatsapp.template_rules import (
    BUTTONS_MAX,
    MEDIA_HEADER_FORMATS,
    TemplateButton,
    TemplateDraft,
    template_header_format,
    template_placeholders,
    template_variables,
)

CATEGORY_CHOICES = [("utility", "Utility"), ("marketing", "Marketing"), ("authentication", "Authentication")]
HEADER_CHOICES = [("", "No header"), ("text", "Text"), ("image", "Image"), ("video", "Video"), ("document", "Document")]
FORMAT_CHOICES = [
    ("", "From the text ({{1}} or {{first_name}})"),
    ("positional", "Positional: {{1}}, {{2}}…"),
    ("named", "Named: {{first_name}}…"),
]
BUTTON_TYPE_CHOICES = [("", "—"), ("quick_reply", "Quick reply"), ("url", "Website"), ("phone_number", "Call")]


class TemplateCreateForm(forms.Form):
    channel = forms.ModelChoiceField(
        queryset=Channel.objects.none(),
        to_field_name="public_id",
        help_text="The template is created in this number's WhatsApp Business Account.",
    )
    name = forms.CharField(max_length=512, help_text="Lowercase letters, digits and _, e.g. order_update.")
    language = forms.CharField(max_length=16, initial="en_US", help_text="Meta's code, e.g. en, en_US, pt_BR.")
    category = forms.ChoiceField(choices=CATEGORY_CHOICES)
    parameter_format = forms.ChoiceField(choices=FORMAT_CHOICES, required=False, label="Parameters")
    header_format = forms.ChoiceField(choices=HEADER_CHOICES, required=False, label="Header")
    header_text = forms.CharField(required=False, max_length=200, help_text="Up to 60 characters, one parameter.")
    header_example = forms.CharField(required=False, max_length=200, label="Header example")
    header_file = forms.FileField(
        required=False,
        label="Header sample",
        help_text="For an image (JPEG/PNG), video (MP4) or document (PDF) header: a sample for Meta's review.",
    )
    body = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5}),
        max_length=4000,
        help_text="Up to 1024 characters. Parameters: {{1}}, {{2}}… or {{first_name}}, with words around them.",
    )
    footer = forms.CharField(required=False, max_length=200, help_text="Up to 60 characters, no parameters.")

    def __init__(self, *args, workspace, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["channel"].queryset = (
            Channel.objects.whatsapp().filter(workspace=workspace, status=Channel.Status.ACTIVE).exclude(waba_id="")
        )
        body = str(self.data.get("body", "")) if self.is_bound else ""
        self.example_names = template_variables(body)
        for name in self.example_names:
            self.fields[f"example_{name}"] = forms.CharField(
                label=f"Example for {{{{{name}}}}}", required=False, max_length=500
            )
        for i in range(BUTTONS_MAX):
            self.fields[f"button_{i}_type"] = forms.ChoiceField(
                choices=BUTTON_TYPE_CHOICES, required=False, label=f"Button {i + 1}"
            )
            self.fields[f"button_{i}_text"] = forms.CharField(required=False, max_length=200, label="Label")
            self.fields[f"button_{i}_url"] = forms.CharField(required=False, max_length=2100, label="URL")
            self.fields[f"button_{i}_url_example"] = forms.CharField(
                required=False, max_length=500, label="URL example"
            )
            self.fields[f"button_{i}_phone_number"] = forms.CharField(required=False, max_length=40, label="Phone")

    @property
    def example_fields(self) -> list:
        return [self[f"example_{name}"] for name in self.example_names]

    @property
    def button_rows(self) -> list[list]:
        parts = ("type", "text", "url", "url_example", "phone_number")
        return [[self[f"button_{i}_{part}"] for part in parts] for i in range(BUTTONS_MAX)]

    def draft(self) -> TemplateDraft:
        data = self.cleaned_data
        buttons = [
            TemplateButton(
                type=data[f"button_{i}_type"],
                text=data[f"button_{i}_text"],
                url=data[f"button_{i}_url"],
                url_example=data[f"button_{i}_url_example"],
                phone_number=data[f"button_{i}_phone_number"],
            )
            for i in range(BUTTONS_MAX)
            if data.get(f"button_{i}_type")
        ]
        return TemplateDraft(
            name=data["name"].strip(),
            language=data["language"].strip(),
            category=data["category"],
            parameter_format=data["parameter_format"],
            header_format=data["header_format"],
            header_text=data["header_text"],
            header_example=data["header_example"],
            body=data["body"],
            body_examples={name: data.get(f"example_{name}", "") for name in self.example_names},
            footer=data["footer"],
            buttons=buttons,
        )

    def add_problem(self, field: str, message: str) -> None:
        """Show a rule's message next to its input (button and example fields map to their row)."""
        name = field
        if field.startswith("buttons."):
            parts = field.split(".")
            name = f"button_{parts[1]}_{parts[2]}" if len(parts) > 2 else None
        elif field.startswith("body_examples."):
            name = f"example_{field.split('.', 1)[1]}"
        self.add_error(name if name in self.fields else None, message)


class TemplateSendForm(forms.Form):
    """Built from one template: a recipient, then one input per placeholder (and a media link if needed)."""

    channel = forms.ModelChoiceField(queryset=Channel.objects.none(), empty_label=None, to_field_name="public_id")
    contact = forms.ChoiceField(required=False, label="Contact")
    to = forms.CharField(
        required=False, max_length=40, label="Or a phone number", help_text="International format, e.g. +447700900123."
    )

    def __init__(self, *args, template, channels, contacts=(), conversation=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.template = template
        self.conversation = conversation
        self.fields["channel"].queryset = channels
        if conversation is not None:
            # Sent into a known conversation (the inbox composer): no recipient to choose.
            for name in ("channel", "contact", "to"):
                del self.fields[name]
        else:
            self.fields["contact"].choices = [("", "—")] + [
                (str(c.pk), f"{c.profile_name or c.phone_display} ({c.phone_display})") for c in contacts
            ]
        self.placeholders = template_placeholders(template.components, template.parameter_format)
        for i, placeholder in enumerate(self.placeholders):
            self.fields[f"value_{i}"] = forms.CharField(
                label=placeholder.label,
                max_length=1024,
                help_text=f"e.g. {placeholder.example}" if placeholder.example else "",
            )
        self.header_format = template_header_format(template.components)
        if self.header_format in MEDIA_HEADER_FORMATS:
            self.fields["header_link"] = forms.URLField(
                label=f"Header {self.header_format.lower()} link",
                assume_scheme="https",
                help_text=f"An https link to the {self.header_format.lower()} customers see at the top.",
            )

    @property
    def value_fields(self) -> list:
        return [self[f"value_{i}"] for i in range(len(self.placeholders))]

    def values(self) -> dict[str, str]:
        return {p.key: self.cleaned_data[f"value_{i}"] for i, p in enumerate(self.placeholders)}

    def header_media(self) -> dict | None:
        link = self.cleaned_data.get("header_link")
        return {"link": link} if link else None

    def clean(self):
        data = super().clean()
        if self.conversation is None and not data.get("contact") and not (data.get("to") or "").strip():
            raise forms.ValidationError("Choose a contact or type a phone number.")
        return data
