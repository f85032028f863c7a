"""Per-API-key rate limits: a token bucket per key, shared by every web process through Redis."""

from django.conf import settings
from rest_framework.throttling import BaseThrottle

from whatsapp_platform.ratelimit import token_bucket_take
from workspaces_app.models import ApiKey


class ApiKeyRateThrottle(BaseThrottle):
    """API_RATE_LIMIT_PER_SECOND sustained, with bursts up to API_RATE_LIMIT_BURST; 429 with Retry-After beyond."""

    def __init__(self):
        self._wait = 0.0

    def allow_request(self, request, view) -> bool:
        if not isinstance(request.auth, ApiKey):
            return True  # unauthenticated requests are refused before they cost anything
        rate = settings.API_RATE_LIMIT_PER_SECOND
        self._wait = token_bucket_take(f"api-key:{request.auth.pk}", rate=rate, capacity=settings.API_RATE_LIMIT_BURST)
        return self._wait <= 0

    def wait(self) -> float:
        return max(1.0, self._wait)
