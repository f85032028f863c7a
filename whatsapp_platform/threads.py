"""How often Python hands the GIL between threads, in the processes that serve many threads at once."""

import os
import sys

# Python's default is 5 ms: a thread whose database or Redis answer has arrived waits up to that long for the
# GIL while another thread computes. A customer message takes ~25 round trips on its way through a drain, so on
# a threaded worker the waits, not the CPU, set the pace (a 1,000-customer burst left both cores half idle with
# replies 107 s late; at 0.5 ms the same burst was CPU-bound). The cost is more frequent switches.
DEFAULT_SECONDS = 0.0005


def thread_switch_interval_apply() -> float:
    """Apply THREAD_SWITCH_INTERVAL (seconds; default 0.5 ms) to this process; returns the value applied."""
    raw = os.environ.get("THREAD_SWITCH_INTERVAL", "").strip()
    try:
        seconds = float(raw) if raw else DEFAULT_SECONDS
    except ValueError:
        raise ValueError(f"THREAD_SWITCH_INTERVAL must be a number of seconds, such as 0.0005 (got {raw!r})") from None
    if not 0 < seconds <= 0.1:
        raise ValueError(f"THREAD_SWITCH_INTERVAL must be above 0 and at most 0.1 seconds (got {raw!r})")
    sys.setswitchinterval(seconds)
    return seconds
