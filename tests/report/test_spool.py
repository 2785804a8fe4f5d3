"""The node's report spool: order, durability, idempotency and the size cap."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.errors import ReportError
from agent.report import Report, Spool


def _result(i: int) -> Report:
    return Report(node="n1", tier="cloud", result="applied", applied_revision=f"r{i}")


def _heartbeat() -> Report:
    return Report(node="n1", tier="cloud", kind="heartbeat")


def test_reports_leave_in_the_order_they_were_put_and_survive_reopening(tmp_path: Path
                                                                        ) -> None:
    made = [_result(i) for i in range(10)]
    with Spool(tmp_path) as spool:
        for r in made:
            spool.put(r)
    with Spool(tmp_path) as spool:
        batch = spool.peek_batch(limit=4)
        assert [b.idempotency_key for b in batch] == [r.idempotency_key for r in made[:4]]
        spool.ack([b.seq for b in batch])
        rest = spool.peek_batch(limit=100)
        assert [b.idempotency_key for b in rest] == [r.idempotency_key for r in made[4:]]
        assert Report.from_wire(rest[0].wire) == made[4]


def test_put_is_idempotent_per_key(tmp_path: Path) -> None:
    report = _result(1)
    with Spool(tmp_path) as spool:
        first = spool.put(report)
        assert spool.put(report) == first
        assert spool.stats().pending == 1


def test_spool_is_sqlite_wal_with_full_sync(tmp_path: Path) -> None:
    with Spool(tmp_path) as spool:
        assert spool._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert spool._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_cap_drops_oldest_heartbeats_first_never_results_and_counts(tmp_path: Path) -> None:
    results = [_result(i) for i in range(3)]
    beats = [_heartbeat() for _ in range(3)]
    mixed = [r for pair in zip(beats, results, strict=True) for r in pair]
    with Spool(tmp_path / "probe", max_bytes=10**9) as probe:
        for r in mixed:
            probe.put(r)
        full = probe.stats().pending_bytes

    with Spool(tmp_path / "node", max_bytes=full) as spool:
        for r in mixed:
            spool.put(r)
        assert spool.stats().dropped_heartbeats == 0
        extra = [_result(i) for i in range(3, 8)]
        for r in extra:
            spool.put(r)
        stats = spool.stats()
        batch = spool.peek_batch(limit=100)
        kept = [b.idempotency_key for b in batch]
    assert stats.dropped_heartbeats == 3
    assert batch[-1].wire["spool_dropped"] == 3  # the fleet learns what the node lost
    assert not any(b.idempotency_key in kept for b in beats)
    assert kept == [r.idempotency_key for r in results + extra]  # every result, in order
    assert stats.pending_bytes > full  # results are kept even past the cap


def test_oldest_heartbeat_goes_before_newer_ones(tmp_path: Path) -> None:
    with Spool(tmp_path, max_bytes=10**9) as probe:
        probe.put(_heartbeat())
        one = probe.stats().pending_bytes
        probe.ack([b.seq for b in probe.peek_batch()])
    beats = [_heartbeat() for _ in range(4)]
    with Spool(tmp_path, max_bytes=int(one * 3.5)) as spool:
        for b in beats:
            spool.put(b)
        kept = [b.idempotency_key for b in spool.peek_batch()]
        assert kept == [b.idempotency_key for b in beats[1:]]
        assert spool.stats().dropped_heartbeats == 1


def test_rejected_reports_leave_the_queue_but_stay_on_disk(tmp_path: Path) -> None:
    with Spool(tmp_path) as spool:
        spool.put(_result(1))
        spool.put(_result(2))
        first = spool.peek_batch(limit=1)[0]
        spool.reject(first, "422 reports[0].tier: unknown")
        assert spool.stats().rejected == 1
        assert spool.stats().pending == 1
        row = spool._db.execute("SELECT reason FROM rejected").fetchone()
        assert row[0].startswith("422")


def test_a_result_without_an_outcome_is_refused() -> None:
    with pytest.raises(ReportError, match="needs a result"):
        Report(node="n1", tier="cloud", kind="result")
    with pytest.raises(ReportError, match="result must be one of"):
        Report(node="n1", tier="cloud", result="exploded")


def test_unwritable_state_dir_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ReportError, match="report spool"):
        Spool(blocker / "state")


def test_flush_to_a_dead_service_returns_by_its_deadline(tmp_path: Path) -> None:
    import socket
    import time

    from agent.report import Sender

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with Spool(tmp_path) as spool, Sender(f"http://127.0.0.1:{port}", "t") as sender:
        spool.put(_result(1))
        started = time.monotonic()
        result = sender.flush(spool, deadline=started + 1.0, max_wait=30)
        elapsed = time.monotonic() - started
    assert result.sent == 0 and result.pending == 1 and result.error
    assert elapsed < 1.5
