"""What a person types into the sandbox phone, checked before anything reaches the emulator."""

import io
import mimetypes
import re

from django import forms
from django.core.files.uploadedfile import UploadedFile

from cloudapi_emulator.models import Customer, PhoneNumber

# WhatsApp refuses a customer file over 100 MB (131052); the sandbox stores files in the database.
MAX_FILE_BYTES = 100 * 1024 * 1024
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


class ComposeForm(forms.Form):
    """The composer: a text, or a file with an optional caption, maybe as a reply."""

    body = forms.CharField(max_length=4096, required=False, strip=False)
    file = forms.FileField(required=False)
    voice = forms.BooleanField(required=False)
    context_wamid = forms.CharField(max_length=200, required=False)

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        body = cleaned.get("body") or ""
        upload: UploadedFile | None = cleaned.get("file")
        if not body.strip() and upload is None:
            raise forms.ValidationError("Type a message or attach a file.")
        cleaned["body"] = body.strip()
        if upload is None:
            if cleaned.get("voice"):
                raise forms.ValidationError("A voice note needs an audio file.")
            return cleaned
        cleaned.update(_file_read(upload))
        if cleaned.get("voice") and cleaned["media_type"] != "audio":
            raise forms.ValidationError("Only an audio file can be sent as a voice note.")
        return cleaned


def _file_read(upload: UploadedFile) -> dict:
    """The file's bytes, type and WhatsApp media type; ValidationError when it cannot be sent."""
    if upload.size is None or upload.size == 0:
        raise forms.ValidationError("That file is empty; choose another one.")
    if upload.size > MAX_FILE_BYTES:
        raise forms.ValidationError("WhatsApp does not take files over 100 MB.")
    try:
        data = upload.read()
    except OSError:
        raise forms.ValidationError("The file could not be read; try again.")
    filename = (upload.name or "file").rsplit("/", 1)[-1][:200]
    mime_type = (upload.content_type or "").split(";", 1)[0].strip().lower()
    if not mime_type or mime_type == "application/octet-stream":
        mime_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    if mime_type in ("image/jpeg", "image/png"):
        media_type = "image"
        _image_check(data)
    elif mime_type == "image/webp":
        media_type = "sticker"
        _image_check(data)
    elif mime_type.startswith("audio/"):
        media_type = "audio"
    elif mime_type.startswith("video/"):
        media_type = "video"
    else:
        media_type = "document"
    return {"data": data, "mime_type": mime_type, "filename": filename, "media_type": media_type}


def _image_check(data: bytes) -> None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise forms.ValidationError("That file is not a readable image; choose a JPEG or PNG.")


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
