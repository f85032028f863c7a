from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from channels_app.selectors import channels_list
from messaging_app.hours import WEEKDAYS
from messaging_app.models import BusinessHours
from messaging_app.selectors import business_hours_document
from messaging_app.services.business_hours import BusinessHoursInvalid, business_hours_save
from whatsapp_platform.api import error_body


class BusinessHoursRangeSerializer(serializers.Serializer):
    start = serializers.CharField(help_text="24-hour HH:MM, in the channel's time zone.")
    end = serializers.CharField(help_text="HH:MM; at or before the start, the range runs past midnight. 24:00 is ok.")


class BusinessHoursClosedDateSerializer(serializers.Serializer):
    date = serializers.DateField()
    label = serializers.CharField(required=False, allow_blank=True)


class BusinessHoursBackTemplateSerializer(serializers.Serializer):
    name = serializers.CharField()
    language = serializers.CharField()
    values = serializers.DictField(
        child=serializers.CharField(),
        required=False,
        help_text='Parameter values by placeholder ("1", "first_name", "button.0"); variables such as '
        "{{customer_name}} allowed.",
    )


class BusinessHoursDocumentSerializer(serializers.Serializer):
    """The whole business-hours document: PUT replaces all of it."""

    enabled = serializers.BooleanField(default=True)
    timezone = serializers.CharField(help_text="An IANA time zone, e.g. Europe/London.")
    mode = serializers.ChoiceField(choices=BusinessHours.Mode.choices)
    weekly = serializers.DictField(
        child=BusinessHoursRangeSerializer(many=True), help_text=f"Ranges per weekday: {', '.join(WEEKDAYS)}."
    )
    closed_dates = BusinessHoursClosedDateSerializer(many=True, required=False)
    away_message = serializers.CharField(
        required=False, allow_blank=True, help_text="Variables: {{next_open}}, {{contact_email}}, …"
    )
    contact_email = serializers.CharField(required=False, allow_blank=True)
    contact_phone = serializers.CharField(required=False, allow_blank=True)
    alternative_contact = serializers.CharField(required=False, allow_blank=True)
    back_message = serializers.CharField(required=False, allow_blank=True)
    back_template = BusinessHoursBackTemplateSerializer(required=False, allow_null=True)


class BusinessHoursStatusSerializer(serializers.Serializer):
    open_now = serializers.BooleanField()
    next_open = serializers.DateTimeField(allow_null=True)
    next_open_display = serializers.CharField(help_text="As customers read it, e.g. “Monday 9:00”.")
    next_close = serializers.DateTimeField(allow_null=True)
    next_close_display = serializers.CharField(help_text="While open: when the team stops, e.g. “today 17:00”.")


class BusinessHoursOutputSerializer(BusinessHoursDocumentSerializer):
    status = BusinessHoursStatusSerializer(read_only=True)


EXAMPLE = {
    "enabled": True,
    "timezone": "Europe/London",
    "mode": "away_wait",
    "weekly": {
        "monday": [{"start": "09:00", "end": "12:30"}, {"start": "13:30", "end": "17:30"}],
        "friday": [{"start": "09:00", "end": "17:00"}],
        "saturday": [{"start": "22:00", "end": "02:00"}],
    },
    "closed_dates": [{"date": "2026-12-25", "label": "Christmas Day"}],
    "away_message": "We're closed now; we're back {{next_open}}. Urgent? Email {{contact_email}}.",
    "contact_email": "help@luckyshrub.example",
    "back_message": "Good morning! We're open again and a teammate will reply here shortly.",
    "back_template": None,
}


class ChannelBusinessHoursApi(APIView):
    """A channel's business hours: weekly ranges, closed dates, and what customers get outside them."""

    def _channel(self, request, channel_id):
        return get_object_or_404(channels_list(workspace=request.auth.workspace), public_id=channel_id)

    @extend_schema(responses=BusinessHoursOutputSerializer, summary="A channel's business hours")
    def get(self, request, channel_id):
        return Response(business_hours_document(channel=self._channel(request, channel_id), now=timezone.now()))

    @extend_schema(
        request=BusinessHoursDocumentSerializer,
        responses=BusinessHoursOutputSerializer,
        summary="Replace a channel's business hours (validated whole; every problem is reported by field)",
        examples=[OpenApiExample("Weekdays in London", value=EXAMPLE, request_only=True)],
    )
    def put(self, request, channel_id):
        channel = self._channel(request, channel_id)
        try:
            business_hours_save(channel=channel, document=request.data)
        except BusinessHoursInvalid as exc:
            body = error_body(exc.code, exc.message, exc.field, fields=exc.errors)
            return Response(body, status=status.HTTP_400_BAD_REQUEST)
        return Response(business_hours_document(channel=channel, now=timezone.now()))
