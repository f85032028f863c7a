"""Each API key has its own token bucket: over it, 429 with Retry-After; other keys are unaffected."""

import pytest
from django.urls import reverse

from tests.factories import WorkspaceFactory, api_key_for

pytestmark = pytest.mark.django_db


def test_a_key_over_its_rate_gets_429_with_retry_after_and_another_key_does_not(client, settings):
    settings.API_RATE_LIMIT_PER_SECOND = 0.5
    settings.API_RATE_LIMIT_BURST = 3
    busy = {"HTTP_AUTHORIZATION": f"Bearer {api_key_for(WorkspaceFactory(slug='busy'))}"}
    calm = {"HTTP_AUTHORIZATION": f"Bearer {api_key_for(WorkspaceFactory(slug='calm'))}"}

    answers = [client.get(reverse("api_workspace"), **busy) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    refused = answers[-1]
    assert int(refused["Retry-After"]) >= 1
    assert refused.json()["error"]["code"] == "throttled"
    assert "available in" in refused.json()["error"]["message"]
    assert client.get(reverse("api_workspace"), **calm).status_code == 200


def test_requests_without_a_key_are_refused_before_they_cost_tokens(client, settings):
    settings.API_RATE_LIMIT_BURST = 1
    for _ in range(3):
        assert client.get(reverse("api_workspace")).status_code == 401
