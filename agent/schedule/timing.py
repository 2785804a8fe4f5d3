"""When a tier polls next: pure functions of the tier policy, the clock and a random source."""

from __future__ import annotations

import random

from agent.tiers import SyncPolicy

# "Realtime" polls every few seconds; an interval above this is taken as a typo for realtime.
REALTIME_DEFAULT = 5.0
REALTIME_MAX = 60.0


def poll_period(policy: SyncPolicy) -> float | None:
    """Seconds between polls, before jitter; None for on-demand (never polls)."""
    if policy.mode == "on-demand":
        return None
    if policy.mode == "realtime":
        seconds = policy.interval_seconds
        return seconds if 0 < seconds <= REALTIME_MAX else REALTIME_DEFAULT
    return max(policy.interval_seconds, 1.0)


def first_run(policy: SyncPolicy, now: float, rng: random.Random) -> float | None:
    """When a freshly started daemon polls first.

    An interval tier waits a random part of its jitter, so a fleet that boots at
    once (a power cut, a site-wide restart) does not hit the Git server at once.
    """
    if poll_period(policy) is None:
        return None
    if policy.mode == "realtime":
        return now
    return now + rng.uniform(0.0, policy.jitter_seconds)


def next_run(policy: SyncPolicy, last_start: float, rng: random.Random) -> float | None:
    """When to poll after a cycle that started at `last_start`; None = wait for a trigger."""
    period = poll_period(policy)
    if period is None:
        return None
    jitter = rng.uniform(0.0, policy.jitter_seconds) if policy.mode == "interval" else 0.0
    return last_start + period + jitter


def backoff(failures: int, *, base: float = 2.0, cap: float = 300.0,
            rng: random.Random | None = None) -> float:
    """Seconds to wait after `failures` consecutive failures: exponential, jittered, capped.

    The growth and jitter are tenacity's `wait_random_exponential`; the draw is
    kept in the upper half of the step so jitter never collapses into retrying at once.
    """
    from tenacity import wait_random_exponential

    if failures <= 0:
        return 0.0
    ceiling = min(cap, base * 2.0 ** (failures - 1))

    class _Attempt:  # the one field tenacity's wait strategies read
        attempt_number = failures

    wait = wait_random_exponential(multiplier=base / 2, max=cap)
    # A seeded `rng` makes the draw reproducible (tests); otherwise tenacity draws.
    drawn = rng.uniform(0.0, ceiling) if rng else float(wait(_Attempt()))  # type: ignore[arg-type]
    return max(ceiling / 2, min(drawn, ceiling))
