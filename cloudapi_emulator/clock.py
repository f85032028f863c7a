"""The emulator's clock: real time plus an offset that tests (and the control API) can move.

Code expiry (30 s), media URL expiry (5 min), the 24 h window and the 72 h registration
limit all read this clock, so a test jumps forward instead of sleeping. The offset is
process-wide, which is what a test wants: the live-server thread sees the same jump.
"""

from datetime import datetime, timedelta

from django.utils import timezone

_offset = timedelta(0)


def now() -> datetime:
    return timezone.now() + _offset


def advance(seconds: float) -> None:
    global _offset
    _offset += timedelta(seconds=seconds)


def reset() -> None:
    global _offset
    _offset = timedelta(0)
