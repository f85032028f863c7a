"""Content-Security-Policy for the server-rendered pages.

Every script and style is served from our own static files, so the policy can forbid
inline script outright. The API and the webhooks answer JSON and need no policy.
"""

from django.conf import settings


def policy_with(*, script: str = "", frame: str = "", connect: str = "") -> str:
    """The console's policy, plus named outside sources for one page that needs them."""
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' {script}".strip(),
            "style-src 'self'",
            "img-src 'self' data: blob:",
            "media-src 'self' blob:",
            "font-src 'self'",
            f"connect-src 'self' {connect}".strip(),
            f"frame-src 'self' {frame}".strip(),
            "frame-ancestors 'none'",
            "form-action 'self'",
            "base-uri 'self'",
            "object-src 'none'",
        ]
    )


_POLICY = policy_with()


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
