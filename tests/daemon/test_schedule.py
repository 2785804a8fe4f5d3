"""Schedule: poll timing per tier mode, maintenance windows, the update lock protocol."""

from __future__ import annotations

import fcntl
import random
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent.config import AgentConfig
from agent.dataload import load_dataclass
from agent.errors import ConfigError
from agent.schedule import ApplyGate, backoff, deferral, first_run, next_run, poll_period
from agent.schedule import lock as update_lock
from agent.schedule.windows import closed_reason, is_open
from agent.tiers import SyncPolicy, Tier, Window


def test_modes_poll_at_their_pace() -> None:
    rng = random.Random(7)
    realtime = SyncPolicy(mode="realtime", interval="3s")
    hourly = SyncPolicy(mode="interval", interval="1h", jitter="10m")
    on_demand = SyncPolicy(mode="on-demand")
    assert poll_period(realtime) == 3.0
    assert poll_period(SyncPolicy(mode="realtime", interval="1h")) == 5.0
    assert first_run(realtime, 100.0, rng) == 100.0
    assert next_run(realtime, 100.0, rng) == 103.0
    runs = [next_run(hourly, 0.0, rng) for _ in range(200)]
    assert all(r is not None and 3600.0 <= r <= 4200.0 for r in runs)
    assert len({round(r or 0) for r in runs}) > 100  # really spread, not one instant
    first = first_run(hourly, 0.0, rng)
    assert first is not None and 0.0 <= first <= 600.0
    assert first_run(on_demand, 0.0, rng) is None
    assert next_run(on_demand, 0.0, rng) is None


def test_backoff_grows_and_is_capped() -> None:
    rng = random.Random(1)
    assert backoff(0) == 0.0
    assert 1.0 <= backoff(1, rng=rng) <= 2.0
    assert 16.0 <= backoff(5, rng=rng) <= 32.0
    assert all(backoff(40, cap=300.0, rng=rng) <= 300.0 for _ in range(50))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_window_opens_at_cron_match_for_its_duration() -> None:
    nightly = Window(cron="0 2 * * *", duration="2h", timezone="Europe/Berlin")
    assert is_open(nightly, at("2026-01-10T01:30:00+00:00"))  # 02:30 in Berlin (CET)
    assert is_open(nightly, at("2026-01-10T01:00:00+00:00"))  # opening minute itself
    assert not is_open(nightly, at("2026-01-10T03:00:00+00:00"))  # 04:00 local, closed
    assert not is_open(nightly, at("2026-01-10T00:59:00+00:00"))
    # Summer time: 02:30 CEST is 00:30 UTC.
    assert is_open(nightly, at("2026-07-10T00:30:00+00:00"))
    reason = closed_reason((nightly,), at("2026-01-10T12:00:00+00:00"))
    assert reason is not None and "next opens 2026-01-11T01:00+00:00" in reason
    assert closed_reason((), at("2026-01-10T12:00:00+00:00")) is None


def test_bad_window_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="invalid cron"):
        is_open(Window(cron="61 * * * *", duration="1h"), datetime.now(UTC))
    with pytest.raises(ConfigError, match="unknown time zone"):
        is_open(Window(cron="0 * * * *", duration="1h", timezone="Mars/Olympus"),
                datetime.now(UTC))


def cfg_with_lock(tmp_path: Path) -> AgentConfig:
    return load_dataclass(AgentConfig, {
        "node": "n", "tier": "vehicle", "source": {"path": str(tmp_path)},
        "daemon": {"lock_file": str(tmp_path / "run/update.lock")}})


TIER = Tier(name="vehicle", overlay="vehicle", registry="r")


def test_deferral_by_window_and_by_script_lock(tmp_path: Path) -> None:
    cfg = cfg_with_lock(tmp_path)
    assert deferral(cfg, TIER) is None
    windowed = Tier(name="vehicle", overlay="vehicle", registry="r",
                    windows=(Window(cron="0 3 * * *", duration="1h"),))
    reason = deferral(cfg, windowed, at("2026-03-01T12:00:00+00:00"))
    assert reason is not None and reason.startswith("outside maintenance window")
    assert deferral(cfg, windowed, at("2026-03-01T03:10:00+00:00")) is None
    held = update_lock.hold(cfg.daemon.lock_file, "parked for charging")
    reason = deferral(cfg, TIER)
    assert reason is not None and "parked for charging" in reason and held in reason
    assert update_lock.free(cfg.daemon.lock_file)
    assert not update_lock.free(cfg.daemon.lock_file)
    assert deferral(cfg, TIER) is None


def test_application_flock_defers_and_waits_for_running_apply(tmp_path: Path) -> None:
    lock_file = tmp_path / "update.lock"
    # An application in another process holds LOCK_SH, as a drive controller would.
    app = subprocess.Popen(
        [sys.executable, "-c",
         "import fcntl,sys,time; f=open(sys.argv[1],'a'); fcntl.flock(f, fcntl.LOCK_SH); "
         "print('held', flush=True); sys.stdin.readline()", str(lock_file)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert app.stdout is not None and app.stdin is not None
    assert app.stdout.readline().strip() == "held"
    reason = update_lock.probe(lock_file)
    assert reason is not None and "held by an application" in reason
    app.stdin.write("\n")
    app.stdin.flush()
    app.wait(5)
    # The agent holds the gate during an apply; an application asking meanwhile waits.
    gate = ApplyGate(lock_file)
    assert gate.try_hold() is None
    got_at: list[float] = []

    def application() -> None:
        with open(lock_file, "a") as f:
            fcntl.flock(f, fcntl.LOCK_SH)
            got_at.append(time.monotonic())

    t = threading.Thread(target=application)
    t.start()
    time.sleep(0.3)
    released = time.monotonic()
    gate.release()
    t.join(5)
    assert got_at and got_at[0] >= released
