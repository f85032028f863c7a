from whatsapp_platform.ratelimit import token_bucket_take


def test_a_bucket_gives_its_burst_then_asks_to_wait_for_the_refill(settings):
    key = "test:burst"
    waits = [token_bucket_take(key, rate=1 / 6, capacity=3) for _ in range(4)]
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert 5.5 < waits[3] <= 6.0  # one token refills every 6 seconds


def test_buckets_are_independent_per_key(settings):
    token_bucket_take("test:a", rate=1, capacity=1)
    assert token_bucket_take("test:a", rate=1, capacity=1) > 0
    assert token_bucket_take("test:b", rate=1, capacity=1) == 0.0
