"""Forms of the console's contact pages: the list's filters and the edits on a contact's page."""

from django import forms

from channels_app.models import Channel


def valid_fields(form: forms.Form) -> dict:
    """A filter form's valid values: one bad value drops that filter, not all of them."""
    if not form.is_bound:
        return {}
    form.is_valid()
    return form.cleaned_data


class ContactFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=200)
    channel = forms.ChoiceField(required=False)
    tag = forms.CharField(required=False, max_length=64)
    marketing = forms.ChoiceField(
        required=False,
        choices=[("", "Any marketing status"), ("opted_out", "Opted out"), ("opted_in", "Not opted out")],
    )
    blocked = forms.ChoiceField(
        required=False, choices=[("", "Blocked or not"), ("yes", "Blocked"), ("no", "Not blocked")]
    )

    def __init__(self, *args, workspace, **kwargs):
        super().__init__(*args, **kwargs)
        channels = Channel.objects.whatsapp().filter(workspace=workspace).order_by("name")
        self.fields["channel"].choices = [("", "All channels")] + [(str(c.public_id), c.name) for c in channels]

    def filters(self) -> dict:
        data = valid_fields(self)
        marketing, blocked = data.get("marketing", ""), data.get("blocked", "")
        return {
            "q": data.get("q", ""),
            "channel_id": data.get("channel") or None,
            "tag": data.get("tag", ""),
            "opted_out": {"opted_out": True, "opted_in": False}.get(marketing),
            "blocked": {"yes": True, "no": False}.get(blocked),
        }


class ContactTagsForm(forms.Form):
    tags = forms.CharField(max_length=1000, help_text="One or more, separated by commas, e.g. vip, newsletter.")

    def clean_tags(self) -> list[str]:
        return [tag.strip() for tag in self.cleaned_data["tags"].split(",") if tag.strip()]


class ContactAttributeForm(forms.Form):
    key = forms.CharField(label="Name", max_length=64, help_text="Letters, digits and _, e.g. plan or city.")
    value = forms.CharField(max_length=500, required=False, help_text="Empty removes the attribute.")
