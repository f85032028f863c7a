"""Conversations and messages over the API: list, search, take over, hand back, assign, close, send.

Sends accept an `Idempotency-Key` header: the same key and body within 24 hours return the
original message (200) without sending again; the same key with another body is a 422.
"""

from django.db import transaction
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from channels_app.models import Channel
from channels_app.whatsapp.payloads import PayloadInvalid, normalise_phone
from messaging_app.models import Contact, Conversation, Message
from messaging_app.selectors import inbox_filtered
from messaging_app.services import conversations as conversation_services
from messaging_app.services.contacts import contact_resolve, conversation_for_contact
from messaging_app.services.handoff import conversation_hand_back
from messaging_app.services.idempotency import idempotent_send, request_fingerprint
from messaging_app.services.outbound import message_send
from messaging_app.window import window_open
from whatsapp_platform.api import CreatedCursorPagination
from whatsapp_platform.errors import InvalidInput

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="Any unique string (a UUID). Repeating a send with the same key and body within 24 h returns the "
    "first message instead of sending again; reusing it with a different body is a 422.",
)


class ContactSummarySerializer(serializers.ModelSerializer):
    phone = serializers.SerializerMethodField()

    class Meta:
        model = Contact
        fields = ["id", "profile_name", "username", "phone", "user_id", "tags"]

    def get_phone(self, contact) -> str:
        return f"+{contact.wa_id}" if contact.wa_id else ""


class ConversationSerializer(serializers.ModelSerializer):
    channel_id = serializers.UUIDField(source="channel.public_id")
    contact = ContactSummarySerializer()
    assigned_agent_id = serializers.SerializerMethodField()
    assigned_user = serializers.SerializerMethodField()
    window_open = serializers.SerializerMethodField()

    class Meta:
        model = Conversation
        fields = [
            "id",
            "channel_id",
            "contact",
            "state",
            "assigned_agent_id",
            "assigned_user",
            "unread_count",
            "waiting_since",
            "last_inbound_at",
            "last_message_at",
            "window_open",
            "closed_at",
            "created_at",
            "updated_at",
        ]

    def get_assigned_agent_id(self, conversation) -> str | None:
        return str(conversation.assigned_agent.public_id) if conversation.assigned_agent else None

    def get_assigned_user(self, conversation) -> str | None:
        return conversation.assigned_user.email if conversation.assigned_user else None

    def get_window_open(self, conversation) -> bool:
        return window_open(conversation)


class MessageSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id")
    type = serializers.CharField(source="message_type")
    reply_to = serializers.SerializerMethodField()
    sent_by = serializers.SerializerMethodField()

    class Meta:
        model = Message
        fields = [
            "id",
            "conversation_id",
            "direction",
            "type",
            "content",
            "status",
            "wamid",
            "reply_to",
            "sender",
            "sent_by",
            "timestamp",
            "sent_at",
            "delivered_at",
            "read_at",
            "failed_at",
            "error_code",
            "error_title",
            "error_details",
            "transcript",
            "media_mime_type",
            "media_size",
            "created_at",
        ]

    def get_reply_to(self, message) -> str | None:
        return str(message.reply_to.public_id) if message.reply_to_id and message.reply_to else None

    def get_sent_by(self, message) -> str | None:
        if message.sender_user_id:
            return message.sender_user.email
        if message.sender_agent_id:
            return message.sender_agent.name
        return None


class SendSerializer(serializers.Serializer):
    type = serializers.ChoiceField(
        choices=[
            "text",
            "image",
            "video",
            "audio",
            "document",
            "sticker",
            "location",
            "contacts",
            "interactive",
            "template",
            "reaction",
        ]
    )
    content = serializers.JSONField(
        required=False,
        default=dict,
        help_text="Meta's object for the type (reference §5): text {body}, image {link|id, caption}, "
        "interactive {type, body, action…}, template {name, language {code}, components}, "
        "reaction {message_id, emoji}…",
    )
    reply_to = serializers.UUIDField(required=False, help_text="The id of a message in this conversation to quote.")
    file = serializers.FileField(required=False, help_text="Multipart only: a file to upload and send as media.")

    def validate_content(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("content must be a JSON object: Meta's object for the type.")
        return value


class NewConversationSendSerializer(SendSerializer):
    channel_id = serializers.UUIDField()
    to = serializers.CharField(max_length=32, help_text="The customer's WhatsApp number with its country code.")


SEND_EXAMPLES = [
    OpenApiExample("Text", request_only=True, value={"type": "text", "content": {"body": "Your order has shipped 📦"}}),
    OpenApiExample(
        "Reply buttons",
        request_only=True,
        value={
            "type": "interactive",
            "content": {
                "type": "button",
                "body": {"text": "Delivery or pick-up?"},
                "action": {
                    "buttons": [
                        {"type": "reply", "reply": {"id": "delivery", "title": "Delivery"}},
                        {"type": "reply", "reply": {"id": "pickup", "title": "Pick-up"}},
                    ]
                },
            },
        },
    ),
    OpenApiExample(
        "Template",
        request_only=True,
        value={
            "type": "template",
            "content": {
                "name": "order_update",
                "language": {"code": "en_US"},
                "components": [{"type": "body", "parameters": [{"type": "text", "text": "#1042"}]}],
            },
        },
    ),
]


def _conversations(request):
    return Conversation.objects.exclude(channel__provider=Channel.Provider.TEST_CONSOLE).filter(
        workspace=request.auth.workspace
    )


def _conversation(request, conversation_id) -> Conversation:
    return get_object_or_404(
        _conversations(request).select_related("channel", "contact", "assigned_agent", "assigned_user"),
        pk=conversation_id,
    )


def _send(request, conversation: Conversation, data: dict) -> Response:
    """Queue the message, once per Idempotency-Key; 201 when queued now, 200 when replayed."""
    reply_to = None
    if data.get("reply_to"):
        reply_to = conversation.messages.filter(public_id=data["reply_to"]).first()
        if reply_to is None:
            raise InvalidInput("reply_to is not a message of this conversation.", field="reply_to")
    upload = data.get("file")

    def send() -> Message:
        media = None
        if upload is not None:
            media = (upload.read(), upload.name or "file", upload.content_type or "application/octet-stream")
        return message_send(
            conversation=conversation,
            message_type=data["type"],
            content=data.get("content") or {},
            sender=Message.Sender.API,
            reply_to=reply_to,
            media_file=media,
        )

    message, replayed = api_send_once(request, data, send)
    return Response(MessageSerializer(message).data, status=status.HTTP_200_OK if replayed else status.HTTP_201_CREATED)


def api_send_once(request, data: dict, send) -> tuple[Message, bool]:
    """Run an API send under the request's Idempotency-Key, if it has one. Returns (message, replayed)."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return send(), False
    fingerprint = request_fingerprint(method=request.method, path=request.path, body=_canonical(data))
    return idempotent_send(workspace=request.auth.workspace, key=key, fingerprint=fingerprint, send=send)


def _canonical(data: dict) -> bytes:
    """The send as validated, in one canonical form: JSON and multipart bodies meaning the same
    message compare equal; a file counts by its bytes."""
    import hashlib
    import json

    canonical = {key: value for key, value in data.items() if key != "file"}
    upload = data.get("file")
    if upload is not None:
        digest = hashlib.sha256()
        for chunk in upload.chunks():
            digest.update(chunk)
        upload.seek(0)
        canonical["file"] = {"name": upload.name, "sha256": digest.hexdigest()}
    return json.dumps(canonical, sort_keys=True, default=str).encode()


class ConversationListApi(ListAPIView):
    serializer_class = ConversationSerializer

    def get_queryset(self):
        params = self.request.query_params
        state = params.get("state", "all")
        if state not in ("all", "", *Conversation.State.values):
            raise InvalidInput(f"state must be one of: all, {', '.join(Conversation.State.values)}.", field="state")
        conversations = inbox_filtered(
            workspace=self.request.auth.workspace,
            user=None,
            q=params.get("q", "").strip(),
            channel_id=params.get("channel_id") or None,
            state=state,
            assignee=params.get("assignee", ""),
            unread=params.get("unread") in ("1", "true"),
        ).select_related("contact", "channel", "assigned_agent", "assigned_user")
        for name, lookup in (("updated_after", "updated_at__gte"), ("updated_before", "updated_at__lt")):
            if params.get(name):
                conversations = conversations.filter(**{lookup: _datetime(params[name], name)})
        return conversations

    @extend_schema(
        summary="List and search conversations",
        parameters=[
            OpenApiParameter("state", str, description="all (default), agent, waiting_human, human or closed"),
            OpenApiParameter("channel_id", OpenApiTypes.UUID),
            OpenApiParameter("assignee", str, description="none, or a user id"),
            OpenApiParameter("unread", bool),
            OpenApiParameter("q", str, description="A contact's name or number, or words of a message"),
            OpenApiParameter("updated_after", OpenApiTypes.DATETIME),
            OpenApiParameter("updated_before", OpenApiTypes.DATETIME),
        ],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


def _datetime(value: str, field: str):
    from django.utils.dateparse import parse_datetime

    parsed = parse_datetime(value)
    if parsed is None or parsed.tzinfo is None:
        raise InvalidInput(
            f"{field} must be an ISO 8601 date-time with a time zone, e.g. 2026-11-24T09:00:00Z.", field=field
        )
    return parsed


class ConversationDetailApi(APIView):
    @extend_schema(responses=ConversationSerializer, summary="One conversation")
    def get(self, request, conversation_id: int):
        return Response(ConversationSerializer(_conversation(request, conversation_id)).data)


class ConversationActionApi(APIView):
    """take-over, hand-back, assign, close: the same as the inbox's buttons."""

    required_permissions = {"POST": "reply"}

    action = ""

    class MemberSerializer(serializers.Serializer):
        user_id = serializers.IntegerField(
            required=False, allow_null=True, help_text="A member's id (take-over: optional; assign: null unassigns)."
        )

    def _member(self, request):
        data = self.MemberSerializer(data=request.data or {})
        data.is_valid(raise_exception=True)
        user_id = data.validated_data.get("user_id")
        if user_id is None:
            return None
        membership = request.auth.workspace.memberships.select_related("user").filter(user_id=user_id).first()
        if membership is None:
            raise InvalidInput("user_id is not a member of this workspace.", field="user_id")
        return membership.user

    @extend_schema(request=MemberSerializer, responses=ConversationSerializer, summary="Act on a conversation")
    def post(self, request, conversation_id: int):
        conversation = _conversation(request, conversation_id)
        if self.action == "take-over":
            conversation_services.conversation_take_over(conversation=conversation, user=self._member(request))
        elif self.action == "hand-back":
            if conversation.channel.agent_id is None and conversation.assigned_agent_id is None:
                raise InvalidInput("This channel has no agent to hand back to: assign one to the channel first.")
            conversation_hand_back(conversation=conversation)
        elif self.action == "assign":
            conversation_services.conversation_assign(conversation=conversation, user=self._member(request))
        elif self.action == "close":
            conversation_services.conversation_close(conversation=conversation)
        return Response(ConversationSerializer(_conversation(request, conversation_id)).data)


class ConversationMessagesApi(ListAPIView):
    required_permissions = {"POST": "reply"}

    serializer_class = MessageSerializer
    parser_classes = [JSONParser, MultiPartParser]
    pagination_class = CreatedCursorPagination

    def get_queryset(self):
        conversation = _conversation(self.request, self.kwargs["conversation_id"])
        return conversation.messages.select_related("reply_to", "sender_user", "sender_agent")

    @extend_schema(summary="A conversation's messages, newest first")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Send a message in a conversation",
        request={"application/json": SendSerializer, "multipart/form-data": SendSerializer},
        responses={201: MessageSerializer, 200: MessageSerializer},
        parameters=[IDEMPOTENCY_HEADER],
        examples=SEND_EXAMPLES,
    )
    def post(self, request, conversation_id: int):
        conversation = _conversation(request, conversation_id)
        data = SendSerializer(data=_payload(request))
        data.is_valid(raise_exception=True)
        return _send(request, conversation, data.validated_data)


def _payload(request) -> dict:
    """JSON bodies as they are; multipart ones with `content` given as a JSON string."""
    if request.content_type.startswith("multipart/"):
        import json

        payload = {
            key: request.data.get(key) for key in ("type", "reply_to", "channel_id", "to") if key in request.data
        }
        if request.data.get("content"):
            try:
                payload["content"] = json.loads(request.data["content"])
            except ValueError:
                raise InvalidInput("content must be a JSON object.", field="content")
        if "file" in request.FILES:
            payload["file"] = request.FILES["file"]
        return payload
    return request.data


class MessageSendApi(APIView):
    """Start (or continue) a conversation with a number: outside the 24-hour window only templates are accepted."""

    required_permissions = {"POST": "reply"}

    parser_classes = [JSONParser, MultiPartParser]

    @extend_schema(
        summary="Send a message to a WhatsApp number",
        request={"application/json": NewConversationSendSerializer},
        responses={201: MessageSerializer, 200: MessageSerializer},
        parameters=[IDEMPOTENCY_HEADER],
        examples=SEND_EXAMPLES,
    )
    def post(self, request):
        data = NewConversationSendSerializer(data=_payload(request))
        data.is_valid(raise_exception=True)
        values = data.validated_data
        channel = (
            Channel.objects.whatsapp().filter(workspace=request.auth.workspace, public_id=values["channel_id"]).first()
        )
        if channel is None:
            raise InvalidInput("No channel with this id in your workspace.", field="channel_id")
        try:
            digits = normalise_phone(values["to"]).lstrip("+")
        except PayloadInvalid as exc:
            raise InvalidInput(str(exc), field="to") from None
        with transaction.atomic():
            contact = contact_resolve(channel=channel, wa_id=digits, user_id=None)
            conversation = conversation_for_contact(contact=contact)
        return _send(request, conversation, values)
