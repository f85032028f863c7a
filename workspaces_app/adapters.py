from allauth.account.adapter import DefaultAccountAdapter
from allauth.mfa.adapter import DefaultMFAAdapter
from django import forms
from django.conf import settings

from whatsapp_platform.encryption import secret_decrypt, secret_encrypt
from workspaces_app.services import invitation_accept, invitation_for_token

INVITATION_SESSION_KEY = "pending_invitation_token"


class InvitationOnlyAccountAdapter(DefaultAccountAdapter):
    """Signup is closed to the public unless ACCOUNT_SIGNUP_OPEN; invited people may always sign up."""

    def is_open_for_signup(self, request) -> bool:
        if settings.ACCOUNT_SIGNUP_OPEN:
            return True
        return bool(request.session.get(INVITATION_SESSION_KEY))

    def clean_email(self, email: str) -> str:
        email = super().clean_email(email)
        token = self.request.session.get(INVITATION_SESSION_KEY) if self.request else None
        invitation = invitation_for_token(token=token) if token else None
        if invitation and invitation.email.lower() != email.lower():
            raise forms.ValidationError(f"This invitation is for {invitation.email}; sign up with that address.")
        return email

    def save_user(self, request, user, form, commit=True):
        user = super().save_user(request, user, form, commit=commit)
        token = request.session.pop(INVITATION_SESSION_KEY, None)
        if token and commit:
            invitation_accept(token=token, user=user)
        return user


class EncryptingMFAAdapter(DefaultMFAAdapter):
    """TOTP seeds and recovery-code seeds are encrypted at rest with FIELD_ENCRYPTION_KEYS, like
    every other secret (and re-encrypted by `rotate_encryption_keys`'s key list)."""

    _FERNET_PREFIX = "gAAAA"  # every Fernet token starts so; anything else predates encryption

    def encrypt(self, text: str) -> str:
        return secret_encrypt(text)

    def decrypt(self, encrypted_text: str) -> str:
        if not encrypted_text.startswith(self._FERNET_PREFIX):
            return encrypted_text
        return secret_decrypt(encrypted_text)
