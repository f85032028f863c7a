"""The access-control matrix: every URL of whatsapp_platform.urls, requested as each kind of caller.

The URLs are discovered from the resolver, never listed by hand, so a new one cannot slip past:

- a console page (under /w/<workspace>/) must be declared in CONSOLE with the permission each
  method needs (workspaces_app.models.ROLE_PERMISSIONS); it is then requested as the owner,
  an admin, an agent, a viewer, an outsider (owner of another workspace) and an anonymous
  visitor, and by the owner with another workspace's object ids in the URL;
- an API endpoint (under /api/v1/) must answer 401 without a key (even to a signed-in
  person) and 404 to another workspace's key for this workspace's objects;
- the admin must send visitors who are not staff to sign in and show other workspaces' staff
  nothing of this workspace;
- anything else must be in PUBLIC, ACCOUNT_PAGES or be the local Cloud API emulator, with the
  reason it is open and what guards it instead.

Each (URL, caller, method) is one request, run inside a savepoint that is rolled back, so a
POST that deletes something leaves the world as it was for the next caller.
"""

import hashlib
import json
import sys
import threading
import types
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.http import HttpResponse
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, path, reverse
from django.utils import timezone

from workspaces_app.decorators import workspace_member_required
from workspaces_app.models import ROLE_PERMISSIONS, Role

pytestmark = pytest.mark.django_db

MEMBER_ROLES = (Role.OWNER, Role.ADMIN, Role.AGENT, Role.VIEWER)
CONSOLE_PREFIX = "w/<slug:workspace_slug>/"
LOGIN_URL = "/accounts/login/"

# Console pages: URL name → {method: the permission it needs}. A method left out is not offered (405).
# "manage_owners" is held by owners alone (ROLE_PERMISSIONS).
VIEW, REPLY, CONFIGURE, MEMBERS, OWNERS = "view", "reply", "configure", "manage_members", "manage_owners"
GOVERN = "govern"  # owners: erase a customer's data, retention, the two-factor requirement
CONSOLE: dict[str, dict[str, str]] = {
    "workspace_overview": {"GET": VIEW},
    "channel_list": {"GET": VIEW},
    "channel_create": {"GET": CONFIGURE, "POST": CONFIGURE},
    "channel_detail": {"GET": VIEW},
    "channel_settings_update": {"POST": CONFIGURE},
    "channel_embedded_signup": {"POST": CONFIGURE},
    "channel_manual_connect": {"POST": CONFIGURE},
    "channel_test_message": {"POST": REPLY},
    "channel_business_hours": {"GET": VIEW, "POST": CONFIGURE},
    "channel_live_status": {"GET": VIEW},
    "channel_profile": {"GET": VIEW, "POST": CONFIGURE},
    "channel_deactivate": {"POST": CONFIGURE},
    "channel_delete": {"POST": CONFIGURE},
    "sandbox_phone": {"GET": VIEW},
    "sandbox_customer_add": {"POST": REPLY},
    "sandbox_chat": {"GET": VIEW},
    "sandbox_composer": {"GET": VIEW},
    "sandbox_send": {"POST": REPLY},
    "sandbox_location": {"POST": REPLY},
    "sandbox_tap": {"POST": REPLY},
    "sandbox_react": {"POST": REPLY},
    "sandbox_media": {"GET": VIEW},
    "agent_list": {"GET": VIEW},
    "agent_create": {"GET": CONFIGURE, "POST": CONFIGURE},
    "agent_detail": {"GET": VIEW},
    "agent_settings_update": {"POST": CONFIGURE},
    "agent_knowledge_add": {"POST": CONFIGURE},
    "agent_tool_add": {"POST": CONFIGURE},
    "agent_tool_remove": {"POST": CONFIGURE},
    "agent_knowledge_remove": {"POST": CONFIGURE},
    "agent_test_console": {"GET": REPLY},
    "agent_test_chat": {"GET": REPLY},
    "agent_test_send": {"POST": REPLY},
    "agent_test_tap": {"POST": REPLY},
    "agent_test_reset": {"POST": REPLY},
    "agent_test_hand_back": {"POST": REPLY},
    "message_media": {"GET": VIEW},
    "inbox": {"GET": VIEW},
    "inbox_list": {"GET": VIEW},
    "conversation_detail": {"GET": VIEW},
    "conversation_chat": {"GET": VIEW},
    "conversation_reply": {"POST": REPLY},
    "conversation_composer": {"GET": REPLY},
    "conversation_action": {"POST": REPLY},
    "conversation_runs": {"GET": VIEW},
    "contact_list": {"GET": VIEW},
    "contact_detail": {"GET": VIEW},
    "contact_tags_update": {"POST": REPLY},
    "contact_attributes_update": {"POST": REPLY},
    "contact_marketing_update": {"POST": REPLY},
    "contact_block_update": {"POST": REPLY},
    "contact_export": {"GET": CONFIGURE},
    "contact_archive": {"GET": CONFIGURE},
    "contact_erase": {"GET": GOVERN, "POST": GOVERN},
    "troubleshooting": {"GET": VIEW},
    "troubleshooting_webhooks": {"GET": VIEW},
    "troubleshooting_webhook_detail": {"GET": VIEW},
    "troubleshooting_webhook_reprocess": {"POST": CONFIGURE},
    "troubleshooting_delivery": {"GET": VIEW},
    "troubleshooting_message_resend": {"POST": REPLY},
    "troubleshooting_agent_runs": {"GET": VIEW},
    "template_list": {"GET": VIEW},
    "template_create": {"GET": CONFIGURE, "POST": CONFIGURE},
    "template_create_examples": {"GET": CONFIGURE, "POST": CONFIGURE},
    "template_sync": {"POST": CONFIGURE},
    "template_sync_status": {"GET": VIEW},
    "template_picker": {"GET": REPLY},
    "template_detail": {"GET": VIEW},
    "template_send": {"POST": REPLY},
    "template_delete": {"POST": CONFIGURE},
    "analytics": {"GET": VIEW},
    "analytics_export": {"GET": VIEW},
    "workspace_settings": {"GET": VIEW},
    "workspace_settings_update": {"POST": CONFIGURE},
    "workspace_retention_update": {"POST": GOVERN},
    "invitation_create": {"POST": MEMBERS},
    "invitation_revoke": {"POST": MEMBERS},
    "membership_update": {"POST": MEMBERS},
    "api_key_create": {"POST": CONFIGURE},
    "api_key_revoke": {"POST": CONFIGURE},
    "campaign_list": {"GET": VIEW, "POST": CONFIGURE},
    "campaign_detail": {"GET": VIEW},
    "campaign_funnel": {"GET": VIEW},
    "campaign_import": {"POST": CONFIGURE},
    "campaign_launch": {"POST": CONFIGURE},
    "campaign_pause": {"POST": CONFIGURE},
    "campaign_resume": {"POST": CONFIGURE},
    "campaign_cancel": {"POST": CONFIGURE},
    "campaign_export": {"GET": VIEW},
    "welcome_update": {"POST": CONFIGURE},
    "scheduled_list": {"GET": VIEW, "POST": REPLY},
    "scheduled_cancel": {"POST": REPLY},
    "scheduled_reschedule": {"POST": REPLY},
    "webhook_list": {"GET": CONFIGURE},
    "webhook_create": {"POST": CONFIGURE},
    "webhook_detail": {"GET": CONFIGURE},
    "webhook_update": {"POST": CONFIGURE},
    "webhook_toggle": {"POST": CONFIGURE},
    "webhook_rotate_secret": {"POST": CONFIGURE},
    "webhook_delete": {"POST": CONFIGURE},
    "webhook_delivery_resend": {"POST": CONFIGURE},
    "audit_log": {"GET": CONFIGURE},
}

# API endpoints whose methods need other than the rule for keys (workspaces_app.api_auth): reading needs
# "view", writing "configure". Each role's key is then held to what that role may do in the console.
API: dict[str, dict[str, str]] = {
    "api_channel_test_message": {"POST": REPLY},
    "api_template_send": {"POST": REPLY},
    "api_conversation_messages": {"POST": REPLY},
    "api_conversation_take_over": {"POST": REPLY},
    "api_conversation_hand_back": {"POST": REPLY},
    "api_conversation_assign": {"POST": REPLY},
    "api_conversation_close": {"POST": REPLY},
    "api_message_send": {"POST": REPLY},
    "api_contact_detail": {"PATCH": REPLY},
    "api_contact_export": {"GET": CONFIGURE},
    "api_contact_erase": {"POST": GOVERN},
    "api_scheduled_message_list": {"POST": REPLY},
    "api_scheduled_message_detail": {"PATCH": REPLY, "DELETE": REPLY},
    "api_webhook_subscription_list": {"GET": CONFIGURE},
    "api_webhook_subscription_detail": {"GET": CONFIGURE},
    "api_webhook_subscription_deliveries": {"GET": CONFIGURE},
    "api_audit_log": {"GET": CONFIGURE},
}

# Open to anyone by design, and what guards each instead of a session.
PUBLIC: dict[str, str] = {
    "healthz": "liveness probe for the load balancer: answers {'status': 'ok'} and nothing else",
    "readyz": "readiness probe: whether the database, cache and broker answer, and how many workers and schedulers"
    " beat (counts and ages only)",
    "metrics": "Prometheus scrape: needs METRICS_TOKEN as a bearer token (404 while none is configured)",
    "webhook_meta_app": "Meta's deliveries: each POST must carry X-Hub-Signature-256 (HMAC-SHA256 of the body with "
    "the app secret, compared in constant time); the GET challenge needs the verify token",
    "webhook_channel": "the same, with the channel's own app secret and verify token",
    "invitation_accept": "the link's token is the credential (only its hash is stored); an unknown token is a 404",
    "console_home": "sends a signed-in person to their first workspace, anyone else to sign in",
    "api_schema": "the OpenAPI description of the API: documentation, no data",
    "api_docs": "Swagger UI over that description",
}
# django-allauth's pages: the way in is open; managing an account needs to be signed in.
ACCOUNT_PAGES: dict[str, str] = {
    "account_login": "open",
    "account_logout": "open",
    "account_inactive": "open",
    "account_signup": "open",  # closed to the public unless invited (ACCOUNT_SIGNUP_OPEN)
    "account_email_verification_sent": "open",
    "account_confirm_email": "open",
    "account_reset_password": "open",
    "account_reset_password_done": "open",
    "account_reset_password_from_key": "open",
    "account_reset_password_from_key_done": "open",
    "account_confirm_login_code": "open",
    "mfa_authenticate": "open",  # the second step of a sign-in already under way
    "account_reauthenticate": "signed_in",
    "account_email": "signed_in",
    "account_change_password": "signed_in",
    "account_set_password": "signed_in",
    "mfa_index": "signed_in",
    "mfa_reauthenticate": "signed_in",
    "mfa_activate_totp": "signed_in",
    "mfa_deactivate_totp": "signed_in",
    "mfa_view_recovery_codes": "signed_in",
    "mfa_generate_recovery_codes": "signed_in",
    "mfa_download_recovery_codes": "signed_in",
}
# The admin's doors: they sign people in and out and show nothing.
ADMIN_OPEN = {
    "admin:login": "hands over to allauth's sign-in (secure_admin_login): same rate limits, same MFA",
    "admin:logout": "signs out whoever asks (POST); a GET is sent back to the admin's index, which needs staff",
}
# The local Cloud API emulator (a fake Meta) answers anyone, as Meta's Graph API answers anyone with a
# token: it is only installed when WHATSAPP_EMULATOR_ENABLED, which settings refuse in production.
EMULATOR_PREFIX = "emulator/"


# --- discovering URLs --------------------------------------------------------------------------


@dataclass
class Route:
    route: str  # the whole pattern, e.g. "w/<slug:workspace_slug>/channels/<uuid:channel_id>/"
    name: str  # namespaced ("admin:…") when included under a namespace
    params: list[str]
    callback: object
    urlconf: str | None = None  # None: the project's


def routes(urlconf=None) -> list[Route]:
    """Every URL pattern reachable from the URLconf, with the parameters its path needs."""
    found: list[Route] = []

    def walk(patterns, prefix: str, namespace: str, params: list[str]) -> None:
        for pattern in patterns:
            own = list(_params(pattern.pattern))
            if isinstance(pattern, URLResolver):
                inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
                walk(pattern.url_patterns, prefix + str(pattern.pattern), inner, params + own)
            elif isinstance(pattern, URLPattern):
                name = f"{namespace}{pattern.name}" if pattern.name else ""
                found.append(Route(prefix + str(pattern.pattern), name, params + own, pattern.callback))

    walk(get_resolver(urlconf).url_patterns, "", "", [])
    return found


def _params(pattern) -> list[str]:
    converters = getattr(pattern, "converters", None)
    if converters:
        return list(converters)
    return list(pattern.regex.groupindex)


# --- the world: two workspaces with one of everything ------------------------------------------


def _world(workspace, n: int, *, owner, member_of) -> dict:
    """One of every object a URL can name, in `workspace`; returns path parameter → value."""
    from agents_app.models import AgentRun, HttpTool, KnowledgeEntry
    from channels_app.models import Channel, ChannelSetupEvent, MessageTemplate, TemplateSync, WebhookEvent
    from cloudapi_emulator.models import Media
    from cloudapi_emulator.models import Message as PhoneMessage
    from cloudapi_emulator.services import customer_get_or_create, sandbox_number_provision
    from events_app.models import Delivery, Event, WebhookSubscription
    from messaging_app.models import Message
    from outreach_app.models import Campaign, CampaignRecipient, ScheduledMessage
    from tests.factories import AgentFactory, conversation_with
    from workspaces_app.models import Invitation
    from workspaces_app.services import api_key_create

    number = sandbox_number_provision(
        display_phone_number=f"+1 555 010 {n:04d}",
        verified_name=workspace.name,
        access_token=f"sandbox-token-{n}",
        app_secret=f"sandbox-secret-{n}",
        webhook_url="http://127.0.0.1:9/unused/",
    )
    agent = AgentFactory(workspace=workspace, name=f"Concierge {n}")
    channel = Channel.objects.create(
        workspace=workspace,
        name=f"Support {n}",
        provider=Channel.Provider.SANDBOX,
        connection=Channel.Connection.SANDBOX,
        status=Channel.Status.ACTIVE,
        phone_number_id=number.phone_number_id,
        waba_id=number.waba_id,
        display_phone_number=number.display_phone_number,
        access_token=f"sandbox-token-{n}",
        app_secret=f"sandbox-secret-{n}",
        verify_token=f"verify-{n}",
        agent=agent,
    )
    customer = customer_get_or_create(number=number, name="Sheena Nelson", phone=f"1650555{n:04d}")
    media = Media.objects.create(
        media_id=f"media{n:06d}",
        number=number,
        mime_type="image/png",
        filename="fern.png",
        data=b"\x89PNG fern",
        sha256="x",
        file_size=9,
        created_at=timezone.now(),
    )
    business_message = PhoneMessage.objects.create(
        number=number,
        customer=customer,
        direction=PhoneMessage.Direction.OUTBOUND,
        wamid=f"wamid.business.{n}",
        message_type="text",
        content={"body": "Your fern is ready."},
        created_at=timezone.now(),
    )
    tool = HttpTool.objects.create(
        agent=agent, name="order_status", description="Looks up an order.", url_template="https://shop.example/o"
    )
    entry = KnowledgeEntry.objects.create(agent=agent, title="Opening hours", body="9 to 5.")
    conversation = conversation_with(channel, wa_id=f"1650555{n:04d}", name=f"Customer {n}")
    message = Message.objects.create(
        workspace=workspace,
        channel=channel,
        conversation=conversation,
        contact=conversation.contact,
        direction=Message.Direction.OUTBOUND,
        message_type="image",
        content={"caption": "Your fern", "filename": "fern.png"},
        timestamp=timezone.now(),
        sender=Message.Sender.AGENT,
        status="failed",
        media_mime_type="image/png",
    )
    message.media_file.save(f"fern-{n}.png", ContentFile(b"\x89PNG fern"), save=True)
    template = MessageTemplate.objects.create(
        workspace=workspace,
        waba_id=number.waba_id,
        meta_id=f"90{n:08d}",
        name="order_ready",
        language="en_US",
        category="UTILITY",
        status="APPROVED",
        components=[{"type": "BODY", "text": "Hi {{1}}, your order is ready."}],
    )
    # Rows that only the admin names: each workspace's own, so the admin's scoping is exercised too.
    AgentRun.objects.create(workspace=workspace, agent=agent, conversation=conversation, provider="knowledge_base")
    ChannelSetupEvent.objects.create(channel=channel, step="manual_check", ok=True, message="Credentials work.")
    sync = TemplateSync.objects.create(
        workspace=workspace,
        channel=channel,
        waba_id=number.waba_id,
        trigger=TemplateSync.Trigger.MANUAL,
        state=TemplateSync.State.SUCCEEDED,
    )
    webhook_event = WebhookEvent.objects.create(
        workspace=workspace,
        channel=channel,
        body=b'{"object": "whatsapp_business_account", "entry": []}',
        headers={},
        signature_valid=True,
        state=WebhookEvent.State.FAILED,
    )
    token = f"invitation-token-{n}"
    invitation = Invitation.objects.create(
        workspace=workspace,
        email=f"newcomer{n}@example.com",
        token_hash=hashlib.sha256(token.encode()).hexdigest(),
        invited_by=owner,
        expires_at=timezone.now() + timedelta(days=7),
    )
    issued = api_key_create(workspace=workspace, name=f"CRM {n}", role=Role.OWNER)
    keys_by_role = {
        role: api_key_create(workspace=workspace, name=f"{role} {n}", role=role).plaintext for role in MEMBER_ROLES
    }
    campaign = Campaign.objects.create(
        workspace=workspace,
        channel=channel,
        name=f"Spring sale {n}",
        template=template,
        template_name=template.name,
        template_language=template.language,
    )
    CampaignRecipient.objects.create(campaign=campaign, contact=conversation.contact)
    scheduled = ScheduledMessage.objects.create(
        workspace=workspace,
        channel=channel,
        contact=conversation.contact,
        message_type="text",
        content={"body": "Your table is booked."},
        send_at=timezone.now() + timedelta(days=1),
    )
    subscription = WebhookSubscription.objects.create(
        workspace=workspace, url="https://hooks.example/whatsapp", event_types=["message.received"], secret="whsec_x"
    )
    event = Event.objects.create(workspace=workspace, type="message.received", payload={})
    delivery = Delivery.objects.create(event=event, subscription=subscription, state=Delivery.State.FAILED)
    return {
        "workspace_slug": workspace.slug,
        "channel_id": channel.public_id,
        "agent_id": agent.public_id,
        "tool_id": tool.pk,
        "entry_id": entry.pk,
        "message_id": message.public_id,
        "conversation_id": conversation.pk,
        "contact_id": conversation.contact_id,
        "event_id": webhook_event.pk,
        "sync_id": sync.pk,
        "template_id": template.public_id,
        "table": "volume",
        "invitation_id": invitation.pk,
        "membership_id": member_of.memberships.get(workspace=workspace).pk,
        "key_id": issued.api_key.public_id,
        "campaign_id": campaign.public_id,
        "scheduled_id": scheduled.public_id,
        "subscription_id": subscription.public_id,
        "delivery_id": delivery.public_id,
        "customer_id": customer.pk,
        "media_id": media.media_id,
        "_form": {"wamid": business_message.wamid},  # what a tap or a reaction names
        # Not objects of a workspace: path values for the public and the emulator's URLs.
        "token": "not-an-invitation-token",
        "key": "not-a-key",
        "uidb36": "0",
        "version": settings.GRAPH_API_VERSION,
        "path": "me",
        "phone_number_id": number.phone_number_id,
        "content_type_id": 1,
        "object_id": 0,  # replaced per admin model
        "_api_key": issued.plaintext,
        "_api_keys_by_role": keys_by_role,
        "_markers": [str(v) for v in (channel.public_id, agent.public_id, template.public_id, campaign.public_id)],
    }


@dataclass
class World:
    acme: dict
    globex: dict
    callers: dict[str, Client]
    owner: object


@pytest.fixture
def graph_refusing(settings):
    """A loopback Graph that refuses every call at once, as Meta does a bad request (error 100, not retried):
    pages that read WhatsApp (the business profile, template deletes) answer without waiting on retries."""
    answer = json.dumps({"error": {"message": "Unsupported request", "type": "GraphMethodException", "code": 100}})

    class Handler(BaseHTTPRequestHandler):
        def _refuse(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(400)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer.encode())

        do_GET = do_POST = do_DELETE = _refuse  # noqa: N815 (http.server's naming)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.GRAPH_API_BASE_URL = settings.WHATSAPP_EMULATOR_GRAPH_URL = f"http://127.0.0.1:{server.server_address[1]}"
    yield
    server.shutdown()
    server.server_close()


@pytest.fixture
def world(settings, graph_refusing) -> World:
    from tests.factories import WorkspaceFactory, member

    settings.API_RATE_LIMIT_BURST = 1_000_000  # one key makes every API request of the matrix
    settings.METRICS_TOKEN = "scrape-token"
    acme = WorkspaceFactory(name="Acme", slug="acme")
    globex = WorkspaceFactory(name="Globex", slug="globex")
    people = {role: member(acme, role, email=f"{role}@acme.test") for role in MEMBER_ROLES}
    people["outsider"] = member(globex, Role.OWNER, email="owner@globex.test")
    callers = {}
    for caller, person in people.items():
        callers[caller] = Client(raise_request_exception=False)
        callers[caller].force_login(person)
    callers["anonymous"] = Client(raise_request_exception=False)
    return World(
        acme=_world(acme, 1, owner=people[Role.OWNER], member_of=people[Role.VIEWER]),
        globex=_world(globex, 2, owner=people["outsider"], member_of=people["outsider"]),
        callers=callers,
        owner=people[Role.OWNER],
    )


# --- asking and judging ----------------------------------------------------------------------------


def _url(route: Route, values: dict) -> str:
    kwargs = {name: values[name] for name in route.params}
    return reverse(route.name, kwargs=kwargs, urlconf=route.urlconf)


def _request(client: Client, method: str, url: str, form: dict | None = None, **extra) -> HttpResponse:
    """One request, its effects rolled back so every caller meets the same world.

    A console POST is a form (`form`, or empty); anything else sends an empty JSON object.
    """
    savepoint = transaction.savepoint()
    try:
        if method == "GET":
            response = client.get(url, **extra)
        elif form is not None:
            response = client.post(url, form, **extra)
        else:
            response = client.generic(method, url, b"{}", content_type="application/json", **extra)
    finally:
        transaction.savepoint_rollback(savepoint)
    return response


def _verdict(response: HttpResponse, expected: str) -> str | None:
    """None when the response is what `expected` asks for, else what was wrong."""
    status = response.status_code
    location = response.get("Location", "")
    if status >= 500:
        error = getattr(response, "exc_info", None)
        return f"server error {status}: {error[1]!r}" if error else f"server error {status}"
    to_login = status == 302 and location.startswith(LOGIN_URL)
    if expected == "allowed":
        if status in (401, 403, 404, 405) or to_login:
            return f"refused ({status} {location}) though the role holds the permission"
        return None
    if expected == "login":
        return None if to_login else f"expected a redirect to sign in, got {status} {location}"
    if expected == "admin_login":  # the admin's login page, which hands over to allauth's (secure_admin_login)
        ok = status == 302 and location.startswith(("/admin/login/", LOGIN_URL))
        return None if ok else f"expected a redirect to sign in, got {status} {location}"
    if expected == "allowed-or-refused":  # open by design: any answer but a crash
        return None
    if expected == "hidden":
        return None if status == 404 else f"expected 404, got {status} {location}"
    if expected == "forbidden":
        return None if status in (403, 404) else f"expected 403 or 404, got {status} {location}"
    if expected == "method":
        return None if status == 405 else f"expected 405 (method not offered), got {status}"
    if expected == "unauthenticated":
        return None if status == 401 else f"expected 401, got {status}"
    raise AssertionError(expected)


def _console_expectation(caller: str, needs: str | None) -> str:
    if needs is None:
        return "method"
    if caller == "anonymous":
        return "login"
    if caller == "outsider":
        return "hidden"
    return "allowed" if needs in ROLE_PERMISSIONS[caller] else "forbidden"


def console_violations(world: World, found: list[Route], spec: dict[str, dict[str, str]]) -> list[str]:
    problems = []
    for route in found:
        if not route.route.startswith(CONSOLE_PREFIX):
            continue
        if not route.name:
            problems.append(f"{route.route}: an unnamed console URL: name it so that it can be declared")
            continue
        if route.name not in spec:
            problems.append(
                f"{route.name} ({route.route}): a console URL not in CONSOLE: declare the permission it needs"
            )
        methods = spec.get(route.name, {"GET": VIEW})  # undeclared: at least membership must be checked
        url = _url(route, world.acme)
        for method in sorted({"GET", *methods}):
            for caller, client in world.callers.items():
                expected = _console_expectation(caller, methods.get(method))
                problem = _verdict(_request(client, method, url, form=world.acme["_form"]), expected)
                if problem:
                    problems.append(f"{method} {route.name} as {caller}: {problem}")
        if len(route.params) > 1 and route.params != ["workspace_slug", "table"]:
            # The owner of Acme, at Acme's address, naming Globex's objects: never theirs to see.
            foreign = _url(route, {**world.globex, "workspace_slug": world.acme["workspace_slug"]})
            for method in methods:
                response = _request(world.callers[Role.OWNER], method, foreign, form=world.globex["_form"])
                problem = _verdict(response, "hidden")
                if problem:
                    problems.append(f"{method} {route.name} with another workspace's ids: {problem}")
    return problems


# --- the console ---------------------------------------------------------------------------------


def test_every_console_url_checks_membership_and_the_roles_permission(world):
    found = routes()
    problems = console_violations(world, found, CONSOLE)
    console_names = {r.name for r in found if r.route.startswith(CONSOLE_PREFIX)}
    problems += [f"{name}: in CONSOLE but no longer a URL" for name in sorted(set(CONSOLE) - console_names)]
    assert problems == [], "\n".join(problems)


# --- the API ---------------------------------------------------------------------------------------


def _api_methods(route: Route) -> list[str]:
    view_class = getattr(route.callback, "view_class", None) or getattr(route.callback, "cls", None)
    return [m.upper() for m in ("get", "post", "put", "patch", "delete") if hasattr(view_class, m)]


def test_every_api_endpoint_needs_a_key_and_shows_only_its_workspace(world):
    acme_key = {"HTTP_AUTHORIZATION": f"Bearer {world.acme['_api_key']}"}
    globex_key = {"HTTP_AUTHORIZATION": f"Bearer {world.globex['_api_key']}"}
    anonymous, signed_in = world.callers["anonymous"], world.callers[Role.OWNER]
    problems = []
    api_routes = [r for r in routes() if r.route.startswith("api/v1/") and r.name not in PUBLIC]
    assert len(api_routes) > 40, "the walker no longer finds the API"
    for route in api_routes:
        if not route.name:
            problems.append(f"{route.route}: an unnamed API URL")
            continue
        url = _url(route, world.acme)
        names_objects = len(route.params) > 0
        for method in _api_methods(route):
            checks = [
                ("no key", anonymous, {}, "unauthenticated"),
                ("a signed-in person without a key", signed_in, {}, "unauthenticated"),
                ("the workspace's key", anonymous, acme_key, "allowed"),
            ]
            if names_objects:
                checks.append(("another workspace's key", anonymous, globex_key, "hidden"))
            for who, client, headers, expected in checks:
                problem = _verdict(_request(client, method, url, **headers), expected)
                if problem:
                    problems.append(f"{method} {route.route} with {who}: {problem}")
            if not names_objects:
                response = _request(anonymous, method, url, **globex_key)
                body = response.content.decode(errors="replace")
                leaked = [marker for marker in world.acme["_markers"] if marker in body]
                if response.status_code in (401, 403) or response.status_code >= 500 or leaked:
                    problems.append(
                        f"{method} {route.route} with another workspace's key: {response.status_code} {leaked}"
                    )
    assert problems == [], "\n".join(problems)


def test_every_api_key_does_what_its_role_may_in_the_console(world):
    """A key carries a role (chosen at creation, never above its creator's): what the role holds is allowed,
    anything else is a 403 that names the key's role."""
    problems = []
    api_routes = [r for r in routes() if r.route.startswith("api/v1/") and r.name not in PUBLIC]
    declared = {r.name for r in api_routes}
    problems += [f"{name}: in API but no longer a URL" for name in sorted(set(API) - declared)]
    for route in api_routes:
        url = _url(route, world.acme)
        for method in _api_methods(route):
            needs = API.get(route.name, {}).get(method) or (VIEW if method == "GET" else CONFIGURE)
            for role, key in world.acme["_api_keys_by_role"].items():
                response = _request(world.callers["anonymous"], method, url, HTTP_AUTHORIZATION=f"Bearer {key}")
                if needs in ROLE_PERMISSIONS[role]:
                    problem = _verdict(response, "allowed")
                elif response.status_code != 403:
                    problem = f"expected 403, got {response.status_code}"
                else:
                    problem = None
                if problem:
                    problems.append(f"{method} {route.name} with a {role} key: {problem}")
    assert problems == [], "\n".join(problems)


# --- the admin -------------------------------------------------------------------------------------


def _admin_model(route: Route):
    """The ModelAdmin an admin URL belongs to, or None (the index, an app's index…)."""
    from django.contrib import admin

    for model, model_admin in admin.site._registry.items():
        if route.name.startswith(f"admin:{model._meta.app_label}_{model._meta.model_name}_"):
            return model_admin
    return None


def _acme_row(model_admin, world: World):
    """One of Acme's rows of the admin's model: Acme's own for workspace-scoped admins, the owner for users,
    any row for models of no workspace (only superusers manage those)."""
    from django.apps import apps

    rows = model_admin.model._default_manager.all()
    lookup = getattr(model_admin, "workspace_lookup", None)
    if lookup:
        rows = rows.filter(**{lookup: world.owner.memberships.get().workspace_id})
    elif model_admin.model is apps.get_model(settings.AUTH_USER_MODEL):
        rows = rows.filter(pk=world.owner.pk)
    return rows.order_by("pk").first()


def test_the_admin_needs_staff_and_shows_other_workspaces_nothing(world):
    agent, outsider, anonymous = world.callers[Role.AGENT], world.callers["outsider"], world.callers["anonymous"]
    problems = []
    admin_routes = [r for r in routes() if r.route.startswith("admin/") and r.name not in ADMIN_OPEN]
    assert len(admin_routes) > 100, "the walker no longer finds the admin"
    for route in admin_routes:
        model_admin = _admin_model(route) if route.name else None
        row = _acme_row(model_admin, world) if model_admin else None
        if "id" in route.params:  # UserAdmin's password page names the person by "id"
            row = world.owner
        if route.name:
            values = {**world.acme, "object_id": row.pk if row else 0, "id": row.pk if row else 0}
            url = _url(route, {**values, "app_label": "channels_app", "content_type_id": 1})
        else:  # the admin's catch-all (final_catch_all_view): any other path under /admin/
            url = "/admin/no-such-page/"
        for who, client in (("anonymous", anonymous), ("a member who is not staff", agent)):
            problem = _verdict(_request(client, "GET", url), "admin_login")
            if problem:
                problems.append(f"GET {route.name} as {who}: {problem}")
        if row is None:
            continue
        if "object_id" in route.params or "id" in route.params:
            # Staff of another workspace: Acme's row is not theirs to read, change or delete.
            for method in ("GET", "POST"):
                response = _request(outsider, method, url)
                to_change_page = response.status_code == 302 and response["Location"].endswith("/change/")
                if response.status_code < 300 or (response.status_code == 302 and not to_change_page):
                    problems.append(f"{method} {route.name} as another workspace's owner: {response.status_code}")
        elif route.name.endswith("_changelist"):
            change = reverse(route.name.replace("_changelist", "_change"), args=[row.pk])
            if change in _request(outsider, "GET", url).content.decode():
                problems.append(f"GET {route.name} as another workspace's owner lists Acme's {row!r}")
    login = _request(anonymous, "GET", reverse("admin:login"))
    if not login.get("Location", "").startswith(LOGIN_URL):
        problems.append(f"admin:login does not hand over to allauth's sign-in: {login.status_code}")
    assert problems == [], "\n".join(problems)


def test_the_admins_write_paths_refuse_members_whose_role_cannot_configure(world):
    """Staff flags drift (a member made staff by hand, or a stale one): the admin's add, change and delete
    pages still refuse agents and viewers, as the console's settings pages do."""
    from workspaces_app.models import User

    problems = []
    write_routes = [
        r for r in routes() if r.route.startswith("admin/") and r.name.endswith(("_add", "_change", "_delete"))
    ]
    assert len(write_routes) > 60, "the walker no longer finds the admin's write pages"
    for role in (Role.AGENT, Role.VIEWER):
        User.objects.filter(email=f"{role}@acme.test").update(is_staff=True)
        for route in write_routes:
            model_admin = _admin_model(route)
            if model_admin is None:  # one's own password, not a row
                continue
            row = _acme_row(model_admin, world)
            if row is None and "object_id" in route.params:
                continue
            url = _url(route, {**world.acme, "object_id": row.pk if row else 0, "id": world.owner.pk})
            response = _request(world.callers[role], "POST", url, form={"post": "yes"})
            if response.status_code != 403:
                problems.append(f"POST {route.name} as a staff {role}: {response.status_code}")
    assert problems == [], "\n".join(problems)


# --- everything else: public by design, or the way in -----------------------------------------------


def test_every_other_url_is_public_by_design_and_guarded_as_documented(world):
    anonymous, outsider = world.callers["anonymous"], world.callers["outsider"]
    problems = []
    rest = [
        r
        for r in routes()
        if not r.route.startswith((CONSOLE_PREFIX, "admin/"))
        and not (r.route.startswith("api/v1/") and r.name not in PUBLIC)
    ]
    for route in rest:
        if not route.name:
            problems.append(f"{route.route}: an unnamed URL: name it and say in PUBLIC why it is open")
            continue
        url = _url(route, world.acme)
        if route.route.startswith(EMULATOR_PREFIX):
            assert settings.WHATSAPP_EMULATOR_ENABLED
            problem = _verdict(_request(anonymous, "GET", url), "allowed-or-refused")
        elif route.name in ACCOUNT_PAGES:
            expected = "login" if ACCOUNT_PAGES[route.name] == "signed_in" else "allowed-or-refused"
            problem = _verdict(_request(anonymous, "GET", url), expected)
        elif route.name in PUBLIC:
            problem = _public_check(world, route, url)
        else:
            problem = "neither a console page, the API, the admin, an account page nor in PUBLIC: say why it is open"
        if problem:
            problems.append(f"{route.name} ({route.route}): {problem}")
    home = _request(outsider, "GET", reverse("console_home"))
    if home.get("Location") != reverse("workspace_overview", args=["globex"]):
        problems.append(f"console_home sent the outsider to {home.get('Location')}")
    assert problems == [], "\n".join(problems)


def _public_check(world: World, route: Route, url: str) -> str | None:
    anonymous = world.callers["anonymous"]
    if route.name in ("healthz", "readyz", "api_schema", "api_docs"):
        status = _request(anonymous, "GET", url).status_code
        return None if status == 200 else f"expected 200, got {status}"
    if route.name == "metrics":
        bare = _request(anonymous, "GET", url).status_code
        wrong = _request(anonymous, "GET", url, HTTP_AUTHORIZATION="Bearer guessed").status_code
        return (
            None
            if (bare, wrong) == (401, 403)
            else f"expected 401 without and 403 with a wrong token, got {bare}, {wrong}"
        )
    if route.name in ("webhook_meta_app", "webhook_channel"):
        challenge = _request(anonymous, "GET", url).status_code
        unsigned = _request(anonymous, "POST", url).status_code
        if (challenge, unsigned) != (403, 401):
            return f"expected 403 to a bare challenge and 401 to an unsigned POST, got {challenge}, {unsigned}"
        return None
    if route.name == "invitation_accept":
        status = _request(anonymous, "GET", url).status_code
        return None if status == 404 else f"expected 404 for an unknown token, got {status}"
    if route.name == "console_home":
        return _verdict(_request(anonymous, "GET", url), "login")
    raise AssertionError(route.name)


# --- the walker catches what it is for --------------------------------------------------------------


def leaky_report(request, workspace_slug):
    """A console page someone forgot to protect."""
    return HttpResponse("Acme's revenue: 1,000,000")


@workspace_member_required("view")
def viewable_report(request):
    """Protected, but only for viewing: wrong for a page that changes settings."""
    return HttpResponse("Settings changed")


@pytest.fixture
def leaky_urlconf(settings):
    """The real URLs plus two throwaway console pages, as a URLconf of its own."""
    from whatsapp_platform import urls

    module = types.ModuleType("tests_security_leaky_urls")
    module.urlpatterns = [
        path("w/<slug:workspace_slug>/leaky-report/", leaky_report, name="leaky_report"),
        path("w/<slug:workspace_slug>/settings/danger/", viewable_report, name="danger_update"),
        *urls.urlpatterns,
    ]
    sys.modules[module.__name__] = module
    settings.ROOT_URLCONF = module.__name__
    yield module.__name__
    del sys.modules[module.__name__]


def test_the_walker_flags_a_console_url_without_a_permission_check(world, leaky_urlconf):
    throwaway = [r for r in routes(leaky_urlconf) if r.name in ("leaky_report", "danger_update")]
    assert len(throwaway) == 2
    for route in throwaway:
        route.urlconf = leaky_urlconf

    undeclared = console_violations(world, throwaway, {})
    assert "leaky_report (w/<slug:workspace_slug>/leaky-report/): a console URL not in CONSOLE" in undeclared[0]

    declared = console_violations(
        world, throwaway, {"leaky_report": {"GET": VIEW}, "danger_update": {"POST": CONFIGURE}}
    )
    assert "GET leaky_report as outsider: expected 404, got 200 " in declared
    assert "GET leaky_report as anonymous: expected a redirect to sign in, got 200 " in declared
    assert "POST danger_update as viewer: expected 403 or 404, got 200 " in declared
    assert "POST danger_update as agent: expected 403 or 404, got 200 " in declared
    assert "GET danger_update as owner: expected 405 (method not offered), got 200" in declared
    assert not [p for p in declared if "as owner" in p and "POST" in p]  # what is right passes
