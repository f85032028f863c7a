"""The emulator's services: the contract used by the pytest fixture, the demo seed and the sandbox page.

Split by topic (numbers, customers, sending, media, templates, onboarding, signup, profiles,
uploads, faults, webhooks); import them from here.
"""

from cloudapi_emulator.clock import advance as clock_advance
from cloudapi_emulator.clock import reset as clock_reset
from cloudapi_emulator.dispatcher import dispatcher_ensure_running, dispatcher_stop
from cloudapi_emulator.services.customers import (
    CustomerMessageError,
    business_messages_for,
    chat_for,
    customer_get_or_create,
    customer_message_send,
)
from cloudapi_emulator.services.faults import (
    fault_add,
    faults_clear,
    pair_rate_limit_set,
    throughput_limit_set,
)
from cloudapi_emulator.services.media import media_upload, media_urls_expire
from cloudapi_emulator.services.numbers import app_register, sandbox_number_provision, token_revoke
from cloudapi_emulator.services.onboarding import number_two_step_pin_set, oauth_code_issue
from cloudapi_emulator.services.sending import requests_received
from cloudapi_emulator.services.signup import (
    SignupError,
    SignupResult,
    display_number_suggest,
    signup_cancel,
    signup_error_report,
    signup_finish,
)
from cloudapi_emulator.services.templates import template_add
from cloudapi_emulator.services.webhooks import deliveries_drain, webhook_mode_set

__all__ = [
    "CustomerMessageError",
    "SignupError",
    "SignupResult",
    "app_register",
    "business_messages_for",
    "chat_for",
    "clock_advance",
    "clock_reset",
    "customer_get_or_create",
    "customer_message_send",
    "deliveries_drain",
    "display_number_suggest",
    "dispatcher_ensure_running",
    "dispatcher_stop",
    "fault_add",
    "faults_clear",
    "media_upload",
    "media_urls_expire",
    "number_two_step_pin_set",
    "oauth_code_issue",
    "pair_rate_limit_set",
    "requests_received",
    "sandbox_number_provision",
    "signup_cancel",
    "signup_error_report",
    "signup_finish",
    "template_add",
    "throughput_limit_set",
    "token_revoke",
    "webhook_mode_set",
]
