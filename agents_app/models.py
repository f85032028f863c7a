import uuid

from django.db import models


class Agent(models.Model):
    """An AI agent a workspace assigns to its channels."""

    class Provider(models.TextChoices):
        KNOWLEDGE_BASE = "knowledge_base", "Knowledge base (offline)"
        OPENAI_COMPATIBLE = "openai", "OpenAI-compatible"
        ANTHROPIC = "anthropic", "Anthropic"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    workspace = models.ForeignKey("workspaces_app.Workspace", on_delete=models.CASCADE, related_name="agents")
    name = models.CharField(max_length=120)
    instructions = models.TextField(help_text="The system prompt: who the agent is and how it writes.")
    provider = models.CharField(max_length=24, choices=Provider.choices, default=Provider.KNOWLEDGE_BASE)
    model = models.CharField(max_length=120, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="agent_unique_name")]

    def __str__(self) -> str:
        return self.name
