"""The console's business-hours form: plain text per weekday, turned into the API's document and
validated by the same service, so the console and the API give the same messages."""

import re

from django import forms

from messaging_app.hours import WEEKDAYS, time_zones
from messaging_app.models import BusinessHours
from messaging_app.services.business_hours import VARIABLES, BusinessHoursInvalid, business_hours_parse

_RANGE_SPLIT = re.compile(r"\s*(?:-|–|—|\bto\b)\s*")
_VALUE_LINE = re.compile(r"^\s*([A-Za-z0-9_.]+)\s*=\s*(.*)$")
_VARIABLES_HELP = "Variables: " + ", ".join("{{" + name + "}}" for name in VARIABLES) + "."


def _ranges_text(ranges: list[dict]) -> str:
    return ", ".join(f"{r['start']}–{r['end']}" for r in ranges)


class BusinessHoursForm(forms.Form):
    enabled = forms.BooleanField(required=False, label="Use business hours on this channel")
    timezone = forms.CharField(label="Time zone", widget=forms.Select)
    mode = forms.CharField(
        label="What customers get",
        widget=forms.RadioSelect(choices=BusinessHours.Mode.choices),
    )
    monday = forms.CharField(required=False)
    tuesday = forms.CharField(required=False)
    wednesday = forms.CharField(required=False)
    thursday = forms.CharField(required=False)
    friday = forms.CharField(required=False)
    saturday = forms.CharField(required=False)
    sunday = forms.CharField(required=False)
    closed_dates = forms.CharField(
        required=False,
        label="Closed dates",
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="One a line: the date, then a label if you like, e.g. 2026-12-25 Christmas Day.",
    )
    away_message = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Sent once per closed period to a customer who writes. " + _VARIABLES_HELP,
    )
    contact_email = forms.CharField(required=False, label="Contact email")
    contact_phone = forms.CharField(required=False, label="Contact phone")
    alternative_contact = forms.CharField(
        required=False,
        label="Other ways to reach you",
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Free text for {{alternative_contact}}, e.g. “For emergencies call +44 20 7946 0000.” Also offered "
        "to a customer who asks for a person while you are closed, with when you open next (without it, the contact "
        "phone and email are).",
    )
    back_message = forms.CharField(
        required=False,
        label="“We're back” message",
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Sent at opening to customers still waiting, while their 24-hour window is open. Optional.",
    )
    back_template = forms.CharField(
        required=False,
        label="“We're back” template",
        widget=forms.Select,
        help_text="Sent instead when the customer's 24-hour window has closed (WhatsApp allows only templates).",
    )
    back_template_values = forms.CharField(
        required=False,
        label="Template values",
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One a line: placeholder = value, e.g. 1 = {{customer_name}}.",
    )

    def __init__(self, *args, channel, templates=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.channel = channel
        self.fields["timezone"].widget.choices = [(name, name) for name in sorted(time_zones())]
        self.fields["back_template"].widget.choices = [("", "None")] + [
            (f"{t.name}|{t.language}", f"{t.name} ({t.language})") for t in templates
        ]
        for name in WEEKDAYS:
            self.fields[name].label = name.capitalize()
            self.fields[name].help_text = "e.g. 09:00–12:00, 13:00–17:30 (22:00–02:00 runs past midnight)"
        self.document: dict = {}

    @property
    def weekday_fields(self) -> list:
        return [self[name] for name in WEEKDAYS]

    @classmethod
    def initial_from(cls, document: dict) -> dict:
        template = document.get("back_template") or {}
        return {
            **{k: document[k] for k in ("enabled", "timezone", "mode", "away_message", "back_message")},
            **{k: document[k] for k in ("contact_email", "contact_phone", "alternative_contact")},
            **{name: _ranges_text(document["weekly"].get(name, [])) for name in WEEKDAYS},
            "closed_dates": "\n".join(f"{d['date']} {d['label']}".strip() for d in document["closed_dates"]),
            "back_template": f"{template['name']}|{template['language']}" if template else "",
            "back_template_values": "\n".join(f"{k} = {v}" for k, v in (template.get("values") or {}).items()),
        }

    def clean(self):
        data = super().clean()
        weekly = {name: self._ranges_parse(name, data.get(name, "")) for name in WEEKDAYS}
        template_name, _, template_language = (data.get("back_template") or "").partition("|")
        self.document = {
            "enabled": bool(data.get("enabled")),
            "timezone": data.get("timezone", ""),
            "mode": data.get("mode", ""),
            "weekly": weekly,
            "closed_dates": self._closed_dates_parse(data.get("closed_dates", "")),
            **{
                key: data.get(key, "")
                for key in ("away_message", "contact_email", "contact_phone", "alternative_contact", "back_message")
            },
            "back_template": {
                "name": template_name,
                "language": template_language,
                "values": self._values_parse(data.get("back_template_values", "")),
            }
            if template_name
            else None,
        }
        try:
            business_hours_parse(channel=self.channel, document=self.document)
        except BusinessHoursInvalid as exc:
            for key, message in exc.errors.items():
                field = self._form_field(key)
                if field is None or field not in self.errors:
                    self.add_error(field, message)
        return data

    @staticmethod
    def _form_field(key: str) -> str | None:
        if key.startswith("weekly."):
            return key.removeprefix("weekly.")
        if key == "back_template.values":
            return "back_template_values"
        return key if key in BusinessHoursForm.base_fields else None

    def _ranges_parse(self, field: str, text: str) -> list[dict]:
        ranges = []
        for chunk in filter(None, (part.strip() for part in re.split(r"[,;\n]", text or ""))):
            parts = _RANGE_SPLIT.split(chunk)
            if len(parts) != 2:
                self.add_error(field, f"“{chunk}”: write each range as start–end, e.g. 09:00–17:00.")
                return []
            ranges.append({"start": parts[0], "end": parts[1]})
        return ranges

    @staticmethod
    def _closed_dates_parse(text: str) -> list[dict]:
        found = []
        for line in filter(None, (line.strip() for line in (text or "").splitlines())):
            day, _, label = line.partition(" ")
            found.append({"date": day, "label": label.strip()})
        return found

    def _values_parse(self, text: str) -> dict:
        values = {}
        for line in filter(None, (line.strip() for line in (text or "").splitlines())):
            match = _VALUE_LINE.match(line)
            if match is None:
                self.add_error("back_template_values", f"“{line}”: write placeholder = value, e.g. 1 = Hello.")
                return {}
            values[match.group(1)] = match.group(2).strip()
        return values
