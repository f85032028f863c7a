"""Content-Security-Policy for the server-rendered pages.

Every script and style is served from our own static files, so the policy can forbid
inline script outright. The API and the webhooks answer JSON and need no policy.
"""

from django.conf import settings

_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "font-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
        "base-uri 'self'",
        "object-src 'none'",
    ]
)


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not settings.CSP_ENABLED:
            return response
        if not response.get("Content-Type", "").startswith("text/html"):
            return response
        header = "Content-Security-Policy-Report-Only" if settings.CSP_REPORT_ONLY else "Content-Security-Policy"
        # A view with extra needs (Meta's SDK on the signup page) sets its own policy.
        if "Content-Security-Policy" not in response and header not in response:
            response[header] = _POLICY
        return response
