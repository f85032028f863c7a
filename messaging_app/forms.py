"""Forms for messages typed into the console's chats."""

import mimetypes

from django import forms
from django.core.files.uploadedfile import UploadedFile

from channels_app.models import Channel
from messaging_app.models import Conversation
from whatsapp_platform.images import ImageTooLarge, ImageUnreadable, image_open

# WhatsApp refuses a customer file over 100 MB (131052).
MAX_FILE_BYTES = 100 * 1024 * 1024


class CustomerComposeForm(forms.Form):
    """What a customer types into a chat (the sandbox phone, an agent's test console): a text,
    or a file with an optional caption, maybe as a reply."""

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
    try:
        with image_open(data) as image:
            image.verify()
    except ImageTooLarge as exc:
        raise forms.ValidationError(str(exc))
    except (ImageUnreadable, OSError, SyntaxError, ValueError):
        raise forms.ValidationError("That file is not a readable image; choose a JPEG or PNG.")


class InboxFilterForm(forms.Form):
    """The inbox's filters; anything invalid is ignored rather than failing the page."""

    q = forms.CharField(required=False, max_length=200, label="Search")
    channel = forms.ChoiceField(required=False)
    state = forms.ChoiceField(required=False)
    assignee = forms.ChoiceField(required=False)
    unread = forms.BooleanField(required=False, label="Unread only")

    def __init__(self, *args, workspace, user, **kwargs):
        super().__init__(*args, **kwargs)
        channels = Channel.objects.whatsapp().filter(workspace=workspace).order_by("name")
        self.fields["channel"].choices = [("", "All channels")] + [(str(c.public_id), c.name) for c in channels]
        self.fields["state"].choices = [("", "Open (not closed)"), ("all", "All states")] + list(
            Conversation.State.choices
        )
        members = workspace.memberships.select_related("user").order_by("user__email")
        self.fields["assignee"].choices = [("", "Anyone"), ("me", "Me"), ("none", "Unassigned")] + [
            (str(m.user_id), m.user.email) for m in members
        ]
        self.user = user

    def filters(self) -> dict:
        data = self.cleaned_data if self.is_bound and hasattr(self, "cleaned_data") else {}
        return {
            "q": (data.get("q") or "").strip(),
            "channel_id": data.get("channel") or None,
            "state": data.get("state") or "",
            "assignee": data.get("assignee") or "",
            "unread": bool(data.get("unread")),
        }


class StaffComposeForm(forms.Form):
    """A teammate's message: text, optionally with up to three quick-reply buttons, or a file with a caption."""

    body = forms.CharField(max_length=4096, required=False, strip=False)
    file = forms.FileField(required=False)
    voice = forms.BooleanField(required=False)
    buttons = forms.CharField(
        required=False,
        max_length=200,
        help_text="Up to 3 quick replies, separated by |, e.g. Yes | No | Later",
    )
    reply_to = forms.IntegerField(required=False)

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        body = (cleaned.get("body") or "").strip()
        upload = cleaned.get("file")
        titles = [t.strip() for t in (cleaned.get("buttons") or "").split("|") if t.strip()]
        if not body and upload is None:
            raise forms.ValidationError("Type a message or attach a file.")
        if titles and upload is not None:
            raise forms.ValidationError("Quick-reply buttons go with a text message, not a file.")
        if titles and not body:
            raise forms.ValidationError("Quick-reply buttons need a message above them.")
        if len(titles) > 3:
            raise forms.ValidationError("WhatsApp allows at most 3 quick-reply buttons.")
        for title in titles:
            if len(title) > 20:
                raise forms.ValidationError(f"“{title}” is {len(title)} characters; a button holds 20.")
        cleaned.update(body=body, titles=titles)
        if upload is not None:
            cleaned.update(_file_read(upload))
        return cleaned

    def error_messages(self) -> list[str]:
        return [str(error) for errors in self.errors.values() for error in errors]

    def message(self) -> dict:
        """message_type, content and media_file for `conversation_reply`."""
        data = self.cleaned_data
        if data.get("media_type"):
            content = {"caption": data["body"]} if data["body"] and data["media_type"] != "audio" else {}
            if data["media_type"] == "audio" and data.get("voice"):
                content["voice"] = True
            return {
                "message_type": data["media_type"],
                "content": content,
                "media_file": (data["data"], data["filename"], data["mime_type"]),
            }
        if data["titles"]:
            titles = enumerate(data["titles"])
            buttons = [{"type": "reply", "reply": {"id": f"quick:{i}", "title": title}} for i, title in titles]
            return {
                "message_type": "interactive",
                "content": {"type": "button", "body": {"text": data["body"]}, "action": {"buttons": buttons}},
            }
        return {"message_type": "text", "content": {"body": data["body"]}}
