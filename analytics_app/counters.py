"""Counters for /metrics of events that leave no row behind, kept in the shared cache (Redis in production).

Only sends put back in the queue by pacing count here so far. A count is lost when the cache is
flushed; Prometheus reads the drop as a counter reset, which its rate() already handles.
"""

import logging

from django.core.cache import cache

logger = logging.getLogger(__name__)

SENDS_PACED_KEY = "metrics:sends_paced"


def sends_paced_record() -> None:
    """One outbound send waited for the pair or throughput limit. Never raises: a lost count must not stop a send."""
    try:
        # add() creates the key once; incr() is atomic on Redis (on the file cache two processes may
        # overwrite each other's increment: a little inexact is fine for a counter).
        if not cache.add(SENDS_PACED_KEY, 1, timeout=None):
            cache.incr(SENDS_PACED_KEY)
    except Exception:
        logger.warning("sends-paced counter not updated", exc_info=True)


def sends_paced_count() -> int:
    try:
        return int(cache.get(SENDS_PACED_KEY) or 0)
    except Exception:
        logger.warning("sends-paced counter not readable", exc_info=True)
        return 0
