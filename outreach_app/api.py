"""The outreach API: campaigns (create, audience, preview, launch, pause, resume, cancel, export) and
scheduled messages (create, list, detail, reschedule, cancel). Views stay thin: services do the work."""

import csv
import io

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from channels_app.models import Channel
from channels_app.selectors import channels_list
from outreach_app import selectors, services
from outreach_app.models import Campaign, ScheduledMessage


def _channel_of(request, channel_id) -> Channel:
    channel = channels_list(workspace=request.auth.workspace).filter(public_id=channel_id).first()
    if channel is None:
        raise serializers.ValidationError({"channel_id": "No channel with this id in your workspace."})
    return channel


# --- campaigns -----------------------------------------------------------------------------------


class FunnelSerializer(serializers.Serializer):
    recipients = serializers.IntegerField()
    pending = serializers.IntegerField()
    skipped = serializers.IntegerField()
    queued = serializers.IntegerField()
    sent = serializers.IntegerField()
    delivered = serializers.IntegerField()
    read = serializers.IntegerField()
    replied = serializers.IntegerField()
    failed = serializers.IntegerField()
    failed_by_reason = serializers.ListField(child=serializers.DictField())
    skipped_by_reason = serializers.ListField(child=serializers.DictField())


class CampaignOutputSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id")
    channel_id = serializers.UUIDField(source="channel.public_id")

    class Meta:
        model = Campaign
        fields = [
            "id",
            "name",
            "channel_id",
            "template_name",
            "template_language",
            "parameter_values",
            "header_media_link",
            "audience_tags",
            "audience_attributes",
            "state",
            "state_reason",
            "scheduled_at",
            "started_at",
            "finished_at",
            "import_report",
            "created_at",
            "updated_at",
        ]


class CampaignDetailOutputSerializer(CampaignOutputSerializer):
    funnel = serializers.SerializerMethodField()

    class Meta(CampaignOutputSerializer.Meta):
        fields = [*CampaignOutputSerializer.Meta.fields, "funnel"]

    @extend_schema_field(FunnelSerializer)
    def get_funnel(self, campaign) -> dict:
        return selectors.campaign_funnel(campaign=campaign)


def _campaign_of(request, campaign_id) -> Campaign:
    return get_object_or_404(selectors.campaigns_list(workspace=request.auth.workspace), public_id=campaign_id)


def _detail(campaign: Campaign, code: int = status.HTTP_200_OK) -> Response:
    return Response(CampaignDetailOutputSerializer(campaign).data, status=code)


class CampaignFieldsSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    parameter_values = serializers.DictField(
        child=serializers.CharField(allow_blank=True),
        required=False,
        help_text='Per template parameter ("1", "first_name", "header.1", "button.0"): text, or "{contact.name}", '
        '"{contact.phone}", "{contact.<attribute>}". A CSV column of the same name wins for its row.',
    )
    header_media_link = serializers.URLField(required=False, allow_blank=True, max_length=1000)
    audience_tags = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, help_text="Contacts with any of these tags."
    )
    audience_attributes = serializers.DictField(
        required=False, help_text='And with every one of these attributes, e.g. {"city": "Leeds"}.'
    )


class CampaignListApi(ListAPIView):
    """List campaigns, or create one (a draft: add recipients, preview, then launch)."""

    serializer_class = CampaignOutputSerializer

    class CreateInputSerializer(CampaignFieldsSerializer):
        channel_id = serializers.UUIDField()
        template_name = serializers.CharField(max_length=512)
        template_language = serializers.CharField(max_length=16)

    def get_queryset(self):
        return selectors.campaigns_list(workspace=self.request.auth.workspace)

    @extend_schema(summary="List campaigns")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Create a campaign (draft)",
        request=CreateInputSerializer,
        responses={201: CampaignDetailOutputSerializer},
        examples=[
            OpenApiExample(
                "VIP spring sale",
                request_only=True,
                value={
                    "name": "Spring sale",
                    "channel_id": "5d0c7f4e-3a53-4a59-9a4e-9d2d3f1b6a10",
                    "template_name": "spring_sale",
                    "template_language": "en_US",
                    "parameter_values": {"1": "{contact.name}", "2": "Sunday"},
                    "audience_tags": ["vip"],
                },
            )
        ],
    )
    def post(self, request):
        data = self.CreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        campaign = services.campaign_create(
            workspace=request.auth.workspace,
            channel=_channel_of(request, values.pop("channel_id")),
            user=request.user if getattr(request.user, "pk", None) else None,
            **values,
        )
        return _detail(campaign, status.HTTP_201_CREATED)


class CampaignDetailApi(APIView):
    class UpdateInputSerializer(CampaignFieldsSerializer):
        name = serializers.CharField(max_length=120, required=False)

    @extend_schema(responses=CampaignDetailOutputSerializer, summary="One campaign with its live funnel")
    def get(self, request, campaign_id):
        return _detail(_campaign_of(request, campaign_id))

    @extend_schema(
        request=UpdateInputSerializer, responses=CampaignDetailOutputSerializer, summary="Change a draft campaign"
    )
    def patch(self, request, campaign_id):
        campaign = _campaign_of(request, campaign_id)
        data = self.UpdateInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        return _detail(services.campaign_update(campaign=campaign, **data.validated_data))


class CampaignRecipientsImportApi(APIView):
    class InputSerializer(serializers.Serializer):
        csv = serializers.CharField(
            trim_whitespace=False,
            help_text="CSV text: a phone column (with country code), optional name, one column per template parameter.",
        )
        default_region = serializers.CharField(
            required=False, allow_blank=True, max_length=2, help_text="For numbers without +: GB, US…"
        )

    class OutputSerializer(serializers.Serializer):
        imported = serializers.IntegerField()
        rejected = serializers.IntegerField()
        rows = serializers.IntegerField()
        errors = serializers.ListField(child=serializers.DictField(), help_text="{line, reason} per rejected row.")

    @extend_schema(request=InputSerializer, responses=OutputSerializer, summary="Import recipients from CSV")
    def post(self, request, campaign_id):
        campaign = _campaign_of(request, campaign_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        report = services.campaign_recipients_import_csv(
            campaign=campaign,
            text=data.validated_data["csv"],
            default_region=data.validated_data.get("default_region", ""),
        )
        return Response(report)


class CampaignPreviewApi(APIView):
    class OutputSerializer(serializers.Serializer):
        phone = serializers.CharField()
        name = serializers.CharField()
        values = serializers.DictField()
        rendered = serializers.DictField(allow_null=True)
        error = serializers.CharField()

    @extend_schema(
        parameters=[OpenApiParameter("count", int, description="How many recipients (1–20, default 3).")],
        responses=OutputSerializer(many=True),
        summary="The message as the first recipients would get it",
    )
    def get(self, request, campaign_id):
        campaign = _campaign_of(request, campaign_id)
        try:
            count = max(1, min(20, int(request.query_params.get("count", 3))))
        except ValueError:
            count = 3
        previews = services.campaign_preview(campaign=campaign, count=count)
        return Response(
            [
                {
                    "phone": p["contact"].phone_display,
                    "name": str(p["contact"]),
                    "values": p["values"],
                    "rendered": p["rendered"],
                    "error": p["error"],
                }
                for p in previews
            ]
        )


class CampaignLaunchApi(APIView):
    class InputSerializer(serializers.Serializer):
        scheduled_at = serializers.DateTimeField(
            required=False, allow_null=True, help_text="Start later (ISO 8601); leave out to start now."
        )

    @extend_schema(request=InputSerializer, responses=CampaignDetailOutputSerializer, summary="Start now or schedule")
    def post(self, request, campaign_id):
        campaign = _campaign_of(request, campaign_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return _detail(services.campaign_launch(campaign=campaign, start_at=data.validated_data.get("scheduled_at")))


class CampaignPauseApi(APIView):
    @extend_schema(request=None, responses=CampaignDetailOutputSerializer, summary="Pause (queued messages still go)")
    def post(self, request, campaign_id):
        return _detail(services.campaign_pause(campaign=_campaign_of(request, campaign_id)))


class CampaignResumeApi(APIView):
    @extend_schema(request=None, responses=CampaignDetailOutputSerializer, summary="Resume a paused campaign")
    def post(self, request, campaign_id):
        return _detail(services.campaign_resume(campaign=_campaign_of(request, campaign_id)))


class CampaignCancelApi(APIView):
    @extend_schema(request=None, responses=CampaignDetailOutputSerializer, summary="Cancel for good")
    def post(self, request, campaign_id):
        return _detail(services.campaign_cancel(campaign=_campaign_of(request, campaign_id)))


def campaign_outcomes_csv(campaign: Campaign) -> HttpResponse:
    """Per-recipient outcomes as a CSV download (shared by the API and the console)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(selectors.EXPORT_COLUMNS)
    writer.writerows(selectors.campaign_outcome_rows(campaign=campaign))
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="campaign-{campaign.public_id}.csv"'
    return response


class CampaignExportApi(APIView):
    @extend_schema(responses={(200, "text/csv"): str}, summary="Per-recipient outcomes as CSV")
    def get(self, request, campaign_id):
        return campaign_outcomes_csv(_campaign_of(request, campaign_id))


# --- scheduled messages --------------------------------------------------------------------------


class ScheduledMessageOutputSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id")
    channel_id = serializers.UUIDField(source="channel.public_id")
    to = serializers.CharField(source="contact.phone_display")
    type = serializers.CharField(source="message_type")
    message_id = serializers.UUIDField(source="message.public_id", allow_null=True, default=None)
    message_status = serializers.CharField(source="message.status", allow_null=True, default=None)

    class Meta:
        model = ScheduledMessage
        fields = [
            "id",
            "channel_id",
            "to",
            "type",
            "content",
            "send_at",
            "state",
            "failure_reason",
            "sent_at",
            "message_id",
            "message_status",
            "created_at",
            "updated_at",
        ]


def _scheduled_of(request, scheduled_id) -> ScheduledMessage:
    return get_object_or_404(
        selectors.scheduled_messages_list(workspace=request.auth.workspace), public_id=scheduled_id
    )


class ScheduledMessageListApi(ListAPIView):
    """List scheduled messages (`?state=scheduled`), or schedule one."""

    required_permissions = {"POST": "reply"}

    serializer_class = ScheduledMessageOutputSerializer

    class TemplateInputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=512)
        language = serializers.CharField(max_length=16)
        values = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False)

    class CreateInputSerializer(serializers.Serializer):
        channel_id = serializers.UUIDField()
        to = serializers.CharField(
            required=False, allow_blank=True, max_length=32, help_text="Phone with country code."
        )
        user_id = serializers.CharField(required=False, allow_blank=True, max_length=160, help_text="Or a BSUID.")
        send_at = serializers.DateTimeField()
        type = serializers.CharField(required=False, allow_blank=True, max_length=24, help_text="text, image, …")
        content = serializers.JSONField(required=False, help_text='Meta\'s object for the type, e.g. {"body": …}.')
        template = serializers.DictField(
            required=False, help_text="Instead of type/content: {name, language, values} of an approved template."
        )

    def get_queryset(self):
        state = self.request.query_params.get("state") or None
        return selectors.scheduled_messages_list(workspace=self.request.auth.workspace, state=state)

    @extend_schema(
        parameters=[OpenApiParameter("state", str, enum=[s for s, _ in ScheduledMessage.State.choices])],
        summary="List scheduled messages",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=CreateInputSerializer,
        responses={201: ScheduledMessageOutputSerializer},
        summary="Schedule a message",
        examples=[
            OpenApiExample(
                "Appointment reminder",
                request_only=True,
                value={
                    "channel_id": "5d0c7f4e-3a53-4a59-9a4e-9d2d3f1b6a10",
                    "to": "+447911123456",
                    "send_at": "2026-12-01T09:00:00Z",
                    "template": {
                        "name": "appointment_reminder",
                        "language": "en_US",
                        "values": {"first_name": "Ana", "day": "Monday"},
                    },
                },
            )
        ],
    )
    def post(self, request):
        data = self.CreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        if values.get("template") is not None:
            template = self.TemplateInputSerializer(data=values["template"])
            if not template.is_valid():
                raise serializers.ValidationError({"template": template.errors})
            values["template"] = template.validated_data
        channel = _channel_of(request, values["channel_id"])
        contact = services.scheduled_contact_resolve(
            channel=channel, to=values.get("to", ""), user_id=values.get("user_id", "")
        )
        content = values.get("content")
        if content is not None and not isinstance(content, dict | list):
            raise serializers.ValidationError({"content": 'Give Meta\'s object for the type, e.g. {"body": "Hi"}.'})
        scheduled = services.scheduled_message_create(
            workspace=request.auth.workspace,
            channel=channel,
            contact=contact,
            send_at=values["send_at"],
            message_type=values.get("type", ""),
            content=content,
            template=values.get("template"),
            user=request.user if getattr(request.user, "pk", None) else None,
            via="api",
        )
        return Response(ScheduledMessageOutputSerializer(scheduled).data, status=status.HTTP_201_CREATED)


class ScheduledMessageDetailApi(APIView):
    required_permissions = {"PATCH": "reply", "DELETE": "reply"}

    class RescheduleInputSerializer(serializers.Serializer):
        send_at = serializers.DateTimeField()

    @extend_schema(responses=ScheduledMessageOutputSerializer, summary="One scheduled message")
    def get(self, request, scheduled_id):
        return Response(ScheduledMessageOutputSerializer(_scheduled_of(request, scheduled_id)).data)

    @extend_schema(request=RescheduleInputSerializer, responses=ScheduledMessageOutputSerializer, summary="Reschedule")
    def patch(self, request, scheduled_id):
        scheduled = _scheduled_of(request, scheduled_id)
        data = self.RescheduleInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        scheduled = services.scheduled_message_reschedule(scheduled=scheduled, send_at=data.validated_data["send_at"])
        return Response(ScheduledMessageOutputSerializer(scheduled).data)

    @extend_schema(request=None, responses=ScheduledMessageOutputSerializer, summary="Cancel before it goes")
    def delete(self, request, scheduled_id):
        scheduled = services.scheduled_message_cancel(scheduled=_scheduled_of(request, scheduled_id))
        return Response(ScheduledMessageOutputSerializer(scheduled).data)
