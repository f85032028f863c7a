"""Response-time histograms: fixed bucket bounds, so daily rows add up and percentiles come from counts.

A percentile read from buckets is exact to the bucket it falls in; inside that bucket it is
interpolated linearly, as Prometheus' histogram_quantile does.
"""

import bisect

# Upper bounds in milliseconds; one more bucket past the last holds everything slower.
RESPONSE_BUCKETS_MS: tuple[int, ...] = (
    250,
    500,
    1_000,
    1_500,
    2_000,
    3_000,
    4_000,
    5_000,
    7_500,
    10_000,
    15_000,
    20_000,
    30_000,
    45_000,
    60_000,
    120_000,
    300_000,
    600_000,
)
BUCKET_COUNT = len(RESPONSE_BUCKETS_MS) + 1


def buckets_empty() -> list[int]:
    return [0] * BUCKET_COUNT


def bucket_index(value_ms: float) -> int:
    """The bucket a value falls in: the first whose upper bound is at or above it (bounds are inclusive)."""
    return bisect.bisect_left(RESPONSE_BUCKETS_MS, value_ms)


def bucket_bounds(index: int) -> tuple[float, float]:
    """(lower, upper] of a bucket in ms; the last bucket's upper bound is infinity."""
    lower = 0.0 if index == 0 else float(RESPONSE_BUCKETS_MS[index - 1])
    upper = float(RESPONSE_BUCKETS_MS[index]) if index < len(RESPONSE_BUCKETS_MS) else float("inf")
    return lower, upper


def buckets_add(total: list[int], more: list[int] | None) -> list[int]:
    """Element-wise sum; a row written with fewer buckets (older bounds) adds into the first ones."""
    for i, count in enumerate(more or []):
        if i < len(total):
            total[i] += count
    return total


def percentile_ms(buckets: list[int], q: float) -> float | None:
    """The q-quantile (0 < q < 1) of the counted values, in ms; None when nothing was counted.

    A quantile in the open-ended last bucket reads as that bucket's lower bound (the slowest
    bound we know): "at least 10 minutes".
    """
    total = sum(buckets)
    if total == 0:
        return None
    rank = q * total
    seen = 0
    for index, count in enumerate(buckets):
        if count and seen + count >= rank:
            lower, upper = bucket_bounds(index)
            if upper == float("inf"):
                return lower
            return lower + (upper - lower) * (rank - seen) / count
        seen += count
    return bucket_bounds(len(buckets) - 1)[0]
