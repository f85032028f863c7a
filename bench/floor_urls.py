"""The floor for webhook intake: the least any correct endpoint must do, served by the same stack.

A correct endpoint must check `X-Hub-Signature-256` over the exact bytes received and store
those bytes before it answers 200 (Meta keeps no copy). This one does exactly that and nothing
more: no DRF, no header filtering, no transaction block, no task enqueue. Everything else
(settings, middleware, gunicorn, PostgreSQL, the `WebhookEvent` table) is the project's own,
so `ours / floor` measures only what our view adds.

Gunicorn serves it as `bench.floor_urls:application`; the module swaps in its own URLconf
before Django starts, so nothing in `whatsapp_platform/` needs to know about it.
"""

import hashlib
import hmac
import os

from django.conf import settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "whatsapp_platform.settings")
# Django reads ROOT_URLCONF when it resolves a request, so setting it before the app is built
# is the whole override; the project's settings module stays untouched.
settings.ROOT_URLCONF = "bench.floor_urls"

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()

# Models import only once the app registry is ready, i.e. after get_wsgi_application().
from django.http import HttpResponse, JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402
from django.views.decorators.csrf import csrf_exempt  # noqa: E402
from django.views.decorators.http import require_POST  # noqa: E402

from channels_app.models import WebhookEvent  # noqa: E402


def healthz(request) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@csrf_exempt  # Meta signs with HMAC; it has no CSRF token (DRF's APIView exempts ours the same way)
@require_POST
def webhook_floor(request) -> HttpResponse:
    raw = request.body
    offered = request.headers.get("X-Hub-Signature-256", "")
    expected = "sha256=" + hmac.new(settings.META_APP_SECRET.encode(), raw, hashlib.sha256).hexdigest()
    if not settings.META_APP_SECRET or not hmac.compare_digest(expected.encode(), offered.encode()):
        return HttpResponse(status=401)
    # Stored as already handled: the floor measures intake only, and the worker must not pick these up.
    WebhookEvent.objects.create(body=raw, signature_valid=True, state=WebhookEvent.State.PROCESSED)
    return HttpResponse(status=200)


urlpatterns = [
    path("healthz", healthz),
    path("webhooks/whatsapp/", webhook_floor),
]
