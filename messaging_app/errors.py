from whatsapp_platform.errors import PlatformError


class MessageRejected(PlatformError):
    """The message breaks one of WhatsApp's rules; nothing was queued or sent."""

    code = "whatsapp_limit"
    http_status = 422


class WindowClosed(PlatformError):
    """Free-form message outside the 24-hour customer-service window."""

    code = "window_closed"
    http_status = 422


class ChannelUnavailable(PlatformError):
    code = "channel_unavailable"
    http_status = 409
