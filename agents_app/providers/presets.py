"""What each cloud preset needs besides a model, checked when an agent is saved.

Each check returns the field to correct and a sentence saying how; the registry builds the client from the
same settings (registry.py), so an agent that saves is one the SDK can be built for.
"""

from __future__ import annotations

import re

# Azure API versions are dates, optionally with a -preview suffix: 2024-10-21, 2025-01-01-preview.
AZURE_API_VERSION_RE = re.compile(r"^\d{4}-\d{2}-\d{2}(-preview)?$")
# AWS and Google Cloud region names: us-east-1, eu-central-1, europe-west1, us-central1; "global" on Vertex.
REGION_RE = re.compile(r"^[a-z]{2,}(-[a-z]+)*(-?\d+)?$")
GCP_PROJECT_RE = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")


def preset_problem(
    *, kind: str, api_key: str, base_url: str, api_version: str, region: str, project_id: str
) -> tuple[str, str] | None:
    """(field, message) for the first setting a preset is missing or cannot use; None when all is there."""
    if kind == "azure_openai":
        if not base_url:
            return "base_url", "Azure OpenAI needs your resource's endpoint, e.g. https://my-resource.openai.azure.com."
        if not api_version:
            return "api_version", "Azure OpenAI needs an API version, e.g. 2024-10-21."
        if not AZURE_API_VERSION_RE.match(api_version):
            return "api_version", "An Azure API version looks like 2024-10-21 (or 2025-01-01-preview)."
        if not api_key:
            return "api_key", "Azure OpenAI needs the resource's API key."
    elif kind == "bedrock":
        if not region:
            return "region", "Amazon Bedrock needs the AWS region of the model, e.g. us-east-1."
        if not REGION_RE.match(region):
            return "region", f"“{region}” is not an AWS region name such as us-east-1."
        if not api_key:
            return "api_key", "Amazon Bedrock needs a Bedrock API key (AWS console → Bedrock → API keys)."
    elif kind == "vertex":
        if not region:
            return "region", "Vertex AI needs a region, e.g. europe-west1 (or global)."
        if not REGION_RE.match(region):
            return "region", f"“{region}” is not a Google Cloud region name such as europe-west1."
        if not project_id:
            return "project_id", "Vertex AI needs your Google Cloud project id."
        if not GCP_PROJECT_RE.match(project_id):
            return "project_id", "A Google Cloud project id is 6-30 lower-case letters, digits and hyphens."
        if not api_key:
            return "api_key", "Vertex AI needs an access token (gcloud auth print-access-token)."
    elif kind == "gemini" and not api_key:
        return "api_key", "Gemini needs an API key from Google AI Studio."
    return None
