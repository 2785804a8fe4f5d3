"""Maintenance windows: a window opens at each cron match and stays open for `duration`."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from agent.dataload import parse_duration
from agent.errors import ConfigError
from agent.tiers import Window


def _zone(window: Window) -> ZoneInfo:
    try:
        return ZoneInfo(window.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"unknown time zone {window.timezone!r} in window {window.cron!r}") \
            from exc


def _cron(expr: str, start: datetime) -> object:
    from croniter import croniter

    try:
        return croniter(expr, start)
    except (ValueError, KeyError) as exc:
        raise ConfigError(f"invalid cron expression {expr!r} in a maintenance window: {exc}") \
            from exc


def is_open(window: Window, now: datetime) -> bool:
    """`now` (timezone-aware) lies within `duration` after the latest cron match."""
    local = now.astimezone(_zone(window))
    length = timedelta(seconds=parse_duration(window.duration, key="windows.duration"))
    # Cron has minute resolution; starting a second later makes a match at `now` itself count.
    it = _cron(window.cron, local + timedelta(seconds=1))
    previous: datetime = it.get_prev(datetime)  # type: ignore[attr-defined]
    return previous <= local < previous + length


def next_open(window: Window, now: datetime) -> datetime:
    """The next time `window` opens after `now` (in `now`'s time zone)."""
    local = now.astimezone(_zone(window))
    it = _cron(window.cron, local)
    start: datetime = it.get_next(datetime)  # type: ignore[attr-defined]
    return start.astimezone(now.tzinfo)


def closed_reason(windows: tuple[Window, ...], now: datetime) -> str | None:
    """None when apply may run now (no windows, or one is open); else why not."""
    if not windows or any(is_open(w, now) for w in windows):
        return None
    soonest = min(next_open(w, now) for w in windows)
    return f"outside maintenance window (next opens {soonest.isoformat(timespec='minutes')})"
