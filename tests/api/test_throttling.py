"""The publish rate limit slides: a burst across a window boundary is still refused."""

import pytest
from django.core.cache import cache

from notifications.throttling import SlidingWindowRateThrottle


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class TwoPerSecond(SlidingWindowRateThrottle):
    rate = "2/s"

    def get_cache_key(self, request, view):  # type: ignore[no-untyped-def]
        return "test-throttle:client"


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    cache.clear()


def attempt(clock: Clock, at: float) -> tuple[bool, float]:
    throttle = TwoPerSecond()
    throttle.timer = clock  # type: ignore[method-assign]
    clock.now = at
    allowed = throttle.allow_request(None, None)  # type: ignore[arg-type]
    return allowed, (0.0 if allowed else throttle.wait())


def test_two_requests_straddling_a_window_boundary_leave_no_room_for_a_third() -> None:
    clock = Clock(100.99)
    assert attempt(clock, 100.99)[0]
    assert attempt(clock, 101.00)[0]
    allowed, wait = attempt(clock, 101.01)  # a fixed window would allow this one
    assert not allowed and wait == 1.0


def test_a_refused_request_does_not_use_up_the_allowance() -> None:
    clock = Clock(200.0)
    assert attempt(clock, 200.0)[0]
    assert attempt(clock, 200.1)[0]
    for t in (200.2, 200.5, 200.9):
        assert not attempt(clock, t)[0]
    # Next window: the previous one (2 requests) weighs 2 x (1 - 0.6) = 0.8; one more fits.
    assert attempt(clock, 201.6)[0]
    assert not attempt(clock, 201.65)[0]


def test_retry_after_is_long_enough_for_the_next_request_to_pass() -> None:
    clock = Clock(300.2)
    assert attempt(clock, 300.2)[0]
    assert attempt(clock, 300.3)[0]
    allowed, wait = attempt(clock, 300.4)
    assert not allowed
    assert attempt(clock, 300.4 + wait)[0]
