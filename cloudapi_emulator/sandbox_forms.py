"""What a person types into the sandbox phone, checked before anything reaches the emulator."""

import re

from django import forms

from cloudapi_emulator.models import Customer, PhoneNumber

USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._]{2,34}$")
PHONE_PUNCTUATION = re.compile(r"[\s\-().+]")
REACTION_EMOJI = ("👍", "❤️", "😂", "😮", "😢", "🙏")


class CustomerAddForm(forms.Form):
    """A new customer of the number: with a phone, or username-only (a BSUID is generated)."""

    name = forms.CharField(max_length=200)
    phone = forms.CharField(max_length=32, required=False, help_text="Digits with the country code.")
    username = forms.CharField(
        max_length=35, required=False, help_text="Leave the phone empty for a username-only user."
    )

    def __init__(self, *args, number: PhoneNumber, **kwargs):
        super().__init__(*args, **kwargs)
        self.number = number

    def clean_phone(self) -> str:
        raw = self.cleaned_data["phone"].strip()
        if not raw:
            return ""
        digits = PHONE_PUNCTUATION.sub("", raw)
        if not digits.isdigit():
            raise forms.ValidationError("A phone number has only digits (spaces, dashes and a leading + are fine).")
        if not 7 <= len(digits) <= 15:
            raise forms.ValidationError("A phone number has 7 to 15 digits, country code included.")
        if Customer.objects.filter(number=self.number, phone=digits).exists():
            raise forms.ValidationError("This number already has a customer with that phone.")
        return digits

    def clean_username(self) -> str:
        username = self.cleaned_data["username"].strip().lstrip("@")
        if not username:
            return ""
        if not USERNAME.match(username):
            raise forms.ValidationError("A username has 3 to 35 letters, digits, dots or underscores.")
        if Customer.objects.filter(number=self.number, username__iexact=username).exists():
            raise forms.ValidationError("This number already has a customer with that username.")
        return username

    def clean(self):
        cleaned = super().clean()
        if not self.errors and not cleaned.get("phone") and not cleaned.get("username"):
            raise forms.ValidationError("Give a phone number, or a username for a username-only customer.")
        return cleaned


def _coordinate(name: str, limit: int) -> forms.FloatField:
    message = f"{name} is a number between -{limit} and {limit}."
    return forms.FloatField(
        min_value=-limit,
        max_value=limit,
        error_messages={
            "required": f"{name} is required.",
            "invalid": message,
            "min_value": message,
            "max_value": message,
        },
    )


class LocationForm(forms.Form):
    latitude = _coordinate("Latitude", 90)
    longitude = _coordinate("Longitude", 180)
    name = forms.CharField(max_length=200, required=False)
    address = forms.CharField(max_length=500, required=False)
    context_wamid = forms.CharField(max_length=200, required=False)
