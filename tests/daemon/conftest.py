from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fleet.server import FleetServer


@pytest.fixture
def fleet_service(tmp_path: Path) -> Iterator[tuple[FleetServer, str]]:
    """A `fleet serve` on a fresh SQLite database: (server, database URL)."""
    work = tmp_path / "fleet"
    work.mkdir()
    db = f"sqlite:///{work / 'fleet.db'}"
    server = FleetServer(db, work).start()
    try:
        yield server, db
    finally:
        server.stop()
