"""Business tools an agent may call besides the built-in WhatsApp ones."""

from agents_app.models import Agent


def agent_tool_specs(*, agent: Agent) -> list:
    """The agent's own tools as provider ToolSpecs (none are configured yet for any agent)."""
    return []


def http_tool_run(*, agent: Agent, name: str, arguments: dict) -> dict:
    return {"ok": False, "error": f"Unknown tool {name!r}."}
