"""docs/flows.md names the functions each flow passes through; every name must exist, so the page stays true."""

import importlib
import re
from pathlib import Path

FLOWS = Path(__file__).resolve().parents[2] / "docs" / "flows.md"
# A backticked dotted path into one of the project's packages, e.g. `messaging_app.services.outbound.message_send`.
DOTTED = re.compile(r"`((?:[a-z_]+_app|whatsapp_platform|cloudapi_emulator)(?:\.[A-Za-z_][A-Za-z0-9_]*)+)`")


def _resolves(dotted: str) -> bool:
    """Import the longest module prefix of `dotted`, then follow the rest as attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for name in parts[cut:]:
            if not hasattr(target, name):
                return False
            target = getattr(target, name)
        return True
    return False


def test_every_function_the_flows_page_names_exists():
    names = DOTTED.findall(FLOWS.read_text())
    assert len(names) > 30  # the page names the flows' functions, not a handful
    missing = [name for name in dict.fromkeys(names) if not _resolves(name)]
    assert not missing, f"docs/flows.md names what does not exist: {missing}"


def test_the_check_catches_a_name_that_does_not_exist():
    assert _resolves("messaging_app.services.outbound.message_send")
    assert not _resolves("messaging_app.services.outbound.message_sent")
    assert not _resolves("messaging_app.services.nowhere.message_send")
