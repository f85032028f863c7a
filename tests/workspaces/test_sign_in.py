"""Staff sign-in: email + password through allauth, rate-limited, MFA where the workspace asks."""

import pytest
from allauth.mfa.models import Authenticator
from django.core import mail
from django.urls import reverse

from tests.factories import PASSWORD, WorkspaceFactory, member
from workspaces_app.models import Membership, Role, User

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme():
    return WorkspaceFactory(name="Acme", slug="acme")


def test_signing_in_lands_on_the_workspace_console(client, acme):
    owner = member(acme, Role.OWNER, email="owner@acme.test")
    response = client.post(reverse("account_login"), {"login": "owner@acme.test", "password": PASSWORD}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("workspace_overview", args=["acme"])
    assert "Acme" in response.content.decode()
    assert int(client.session["_auth_user_id"]) == owner.pk


def test_the_admin_login_goes_through_allauth(client):
    response = client.get("/admin/")
    assert response.status_code == 302
    login = client.get("/admin/login/")
    assert login.status_code == 302
    assert login["Location"].startswith(reverse("account_login"))


def test_the_admin_login_locks_an_account_after_repeated_failures(client, acme, settings):
    member(acme, Role.OWNER, email="owner@acme.test")
    login_url = client.get("/admin/", follow=True).request["PATH_INFO"]
    assert login_url == reverse("account_login")
    for _ in range(settings.ACCOUNT_LOGIN_FAILED_ATTEMPTS):
        client.post(f"{login_url}?next=/admin/", {"login": "owner@acme.test", "password": "wrong"})

    # Even the right password is refused while the lock holds, with a message that says why.
    locked = client.post(f"{login_url}?next=/admin/", {"login": "owner@acme.test", "password": PASSWORD})
    assert "Too many failed login attempts" in locked.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_login_page_answers_429_to_a_flood_from_one_address(client):
    statuses = {
        client.post(reverse("account_login"), {"login": f"u{i}@x.test", "password": "wrong"}).status_code
        for i in range(31)
    }
    assert 429 in statuses


def test_public_signup_is_closed_by_default(client):
    response = client.get(reverse("account_signup"))
    assert "closed" in response.content.decode().lower()
    client.post(reverse("account_signup"), {"email": "new@x.test", "password1": PASSWORD, "password2": PASSWORD})
    assert not User.objects.filter(email="new@x.test").exists()


def test_mfa_is_enforced_when_the_workspace_requires_it(client, acme):
    acme.require_mfa = True
    acme.save()
    member(acme, Role.AGENT, email="t@acme.test")
    client.post(reverse("account_login"), {"login": "t@acme.test", "password": PASSWORD})
    response = client.get(reverse("workspace_overview", args=["acme"]))
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_activate_totp")
    # The setup flow (allauth first confirms the password) is reachable, no redirect loop,
    # and says why it is shown.
    setup = client.get(reverse("mfa_activate_totp"), follow=True)
    assert setup.status_code == 200
    assert setup.redirect_chain[-1][0].startswith(reverse("account_reauthenticate"))
    assert "requires two-factor authentication" in setup.content.decode()


def test_a_member_with_totp_passes_the_mfa_requirement(client, acme):
    acme.require_mfa = True
    acme.save()
    teammate = member(acme, Role.AGENT)
    Authenticator.objects.create(user=teammate, type=Authenticator.Type.TOTP, data={"secret": "JBSWY3DPEHPK3PXP"})
    client.force_login(teammate)
    assert client.get(reverse("workspace_overview", args=["acme"])).status_code == 200


def test_a_member_with_totp_is_asked_for_a_code_at_sign_in(client, acme):
    teammate = member(acme, Role.AGENT, email="t@acme.test")
    Authenticator.objects.create(user=teammate, type=Authenticator.Type.TOTP, data={"secret": "JBSWY3DPEHPK3PXP"})
    response = client.post(reverse("account_login"), {"login": "t@acme.test", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_authenticate")
    assert "_auth_user_id" not in client.session


def test_mfa_required_elsewhere_does_not_bind_members_of_other_workspaces(client, acme):
    other = WorkspaceFactory(require_mfa=True)
    person = member(acme, Role.AGENT)
    assert not Membership.objects.filter(user=person, workspace=other).exists()
    client.force_login(person)
    assert client.get(reverse("workspace_overview", args=["acme"])).status_code == 200


# --- Invitations -------------------------------------------------------------------------


def test_an_owner_invites_a_teammate_who_signs_up_and_joins(client, acme, django_capture_on_commit_callbacks):
    capture_on_commit = django_capture_on_commit_callbacks
    owner = member(acme, Role.OWNER)
    client.force_login(owner)
    with capture_on_commit(execute=True):
        client.post(reverse("invitation_create", args=["acme"]), {"email": "New.Person@Acme.test", "role": "agent"})
    assert len(mail.outbox) == 1
    link = next(word for word in mail.outbox[0].body.split() if "/invitations/" in word)
    client.logout()

    path = link.split("127.0.0.1:8000")[-1]
    assert client.get(path)["Location"] == reverse("account_signup")
    client.post(
        reverse("account_signup"), {"email": "new.person@acme.test", "password1": PASSWORD, "password2": PASSWORD}
    )

    joined = User.objects.get(email="new.person@acme.test")
    assert Membership.objects.get(user=joined, workspace=acme).role == Role.AGENT
    assert client.get(reverse("workspace_overview", args=["acme"])).status_code == 200


def test_an_invitation_cannot_be_used_to_sign_up_another_address(client, acme, django_capture_on_commit_callbacks):
    capture_on_commit = django_capture_on_commit_callbacks
    owner = member(acme, Role.OWNER)
    client.force_login(owner)
    with capture_on_commit(execute=True):
        client.post(reverse("invitation_create", args=["acme"]), {"email": "invited@acme.test", "role": "viewer"})
    link = next(word for word in mail.outbox[0].body.split() if "/invitations/" in word)
    client.logout()
    client.get(link.split("127.0.0.1:8000")[-1])
    response = client.post(
        reverse("account_signup"), {"email": "intruder@x.test", "password1": PASSWORD, "password2": PASSWORD}
    )
    assert "invited@acme.test" in response.content.decode()
    assert not User.objects.filter(email="intruder@x.test").exists()


def test_an_existing_user_accepts_an_invitation_after_signing_in(client, acme, django_capture_on_commit_callbacks):
    capture_on_commit = django_capture_on_commit_callbacks
    owner = member(acme, Role.OWNER)
    other = WorkspaceFactory()
    person = member(other, Role.OWNER, email="p@x.test")
    client.force_login(owner)
    with capture_on_commit(execute=True):
        client.post(reverse("invitation_create", args=["acme"]), {"email": "p@x.test", "role": "admin"})
    path = next(word for word in mail.outbox[0].body.split() if "/invitations/" in word).split("127.0.0.1:8000")[-1]
    client.logout()

    assert client.get(path)["Location"].startswith(reverse("account_login"))
    client.force_login(person)
    assert client.get(path)["Location"] == reverse("workspace_overview", args=["acme"])
    assert Membership.objects.get(user=person, workspace=acme).role == Role.ADMIN
    # A second use of the same link is refused.
    assert client.get(path).status_code == 409


def test_an_agent_cannot_invite(client, acme):
    teammate = member(acme, Role.AGENT)
    client.force_login(teammate)
    response = client.post(reverse("invitation_create", args=["acme"]), {"email": "x@y.test", "role": "owner"})
    assert response.status_code == 403
    assert not mail.outbox


def test_an_admin_cannot_demote_the_last_owner(client, acme):
    owner = member(acme, Role.OWNER)
    admin = member(acme, Role.ADMIN)
    client.force_login(admin)
    membership = Membership.objects.get(user=owner)
    response = client.post(
        reverse("membership_update", args=["acme", membership.pk]), {"role": "viewer", "action": "role"}, follow=True
    )
    assert "Only an owner" in response.content.decode()
    membership.refresh_from_db()
    assert membership.role == Role.OWNER


def test_the_last_owner_cannot_step_down(client, acme):
    owner = member(acme, Role.OWNER)
    client.force_login(owner)
    membership = Membership.objects.get(user=owner)
    response = client.post(
        reverse("membership_update", args=["acme", membership.pk]), {"role": "agent", "action": "role"}, follow=True
    )
    assert "at least one owner" in response.content.decode()
    membership.refresh_from_db()
    assert membership.role == Role.OWNER


def test_totp_seeds_are_encrypted_at_rest_and_still_verify_codes(acme):
    from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, hotp_value, yield_hotp_counters_from_time

    teammate = member(acme, Role.AGENT)
    seed = "JBSWY3DPEHPK3PXPJBSWY3DP"
    totp = TOTP.activate(teammate, seed)
    stored = Authenticator.objects.get(pk=totp.instance.pk).data["secret"]
    assert seed not in stored and stored.startswith("gAAAA")  # a Fernet token, not the seed
    code = format_hotp_value(hotp_value(seed, next(yield_hotp_counters_from_time())))
    assert TOTP(Authenticator.objects.get(pk=totp.instance.pk)).validate_code(code)
