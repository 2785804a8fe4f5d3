"""Both store engines behind the one protocol: migrations, ingest, queries."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from fleet.errors import ConflictError
from fleet.store import IngestReport, SqlStore, open_store
from fleet.store.migrations import LATEST


def _row(node: str, *, kind: str = "result", created: float | None = None,
         result: str | None = "applied", revision: str = "r1",
         key: str | None = None) -> IngestReport:
    return IngestReport(
        idempotency_key=key or str(uuid.uuid4()), node=node, tier="cloud", kind=kind,
        created_at=created if created is not None else time.time(),
        desired_revision=revision, applied_revision=revision, commit_time=time.time() - 60,
        apply_time=time.time(), result=result if kind == "result" else None,
        health="Healthy", deferred_reason=None, failures=0, platform="linux/amd64",
        agent_version="0.1.0", body="{}")


@pytest.fixture
def store(store_url: str) -> SqlStore:
    s = open_store(store_url)
    yield s
    s.close()


def test_migrations_run_once_and_record_their_version(store_url: str) -> None:
    first = open_store(store_url)
    assert first.schema_version() == LATEST
    first.close()
    again = open_store(store_url)  # a second start must not re-run anything
    assert again.schema_version() == LATEST
    again.close()


def test_hostile_names_are_just_data(store: SqlStore) -> None:
    name = "x'); DROP TABLE nodes; --"
    store.add_node(name, "cloud", "eu", "h1")
    assert store.get_node(name) is not None
    assert [n.name for n in store.list_nodes(tier="cloud")] == [name]


def test_enrolling_twice_is_a_conflict(store: SqlStore) -> None:
    store.add_node("n1", "cloud", "", "h1")
    with pytest.raises(ConflictError, match="already enrolled"):
        store.add_node("n1", "cloud", "", "h2")
    bulk = [(f"b{i}", "cloud", "", f"hb{i}") for i in range(150)]
    store.add_nodes(bulk)
    with pytest.raises(ConflictError):
        store.add_nodes(bulk)
    assert len(store.list_nodes()) == 151


def test_ingest_dedups_and_keeps_the_newest_result(store: SqlStore) -> None:
    store.add_node("n1", "cloud", "", "h1")
    old = _row("n1", created=1000.0, revision="old")
    new = _row("n1", created=2000.0, revision="new")
    beat = _row("n1", kind="heartbeat", created=3000.0)
    assert store.ingest("n1", [new, beat]).accepted == 2
    # A late, older result (a vehicle's backlog) counts but does not overwrite the newer one.
    outcome = store.ingest("n1", [old, new])
    assert (outcome.accepted, outcome.duplicates) == (1, 1)
    node = store.get_node("n1", offline_after=1e12)
    assert node is not None
    assert node.revision == "new" and node.reports_received == 3
    assert node.last_report == 3000.0


def test_concurrent_batches_all_land_exactly_once(store: SqlStore) -> None:
    names = [f"c{i}" for i in range(8)]
    store.add_nodes([(n, "cloud", "", f"h-{n}") for n in names])
    batches = {n: [[_row(n) for _ in range(20)] for _ in range(10)] for n in names}
    errors: list[BaseException] = []

    def send(name: str) -> None:
        try:
            for batch in batches[name]:
                store.ingest(name, batch)
                store.ingest(name, batch[:5])  # a retry of part of it
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for name in names:
        node = store.get_node(name)
        assert node is not None and node.reports_received == 200
    summary = store.summary()
    assert sum(g.count for g in summary.by_state) == len(names)


def test_text_and_times_survive_the_round_trip(store: SqlStore) -> None:
    store.add_node("n-ü", "cloud", "", "h1")
    text = 'Gesund ✓ 健康 "quoted" \\ back\\slash \U0001f680'
    row = _row("n-ü", created=1234567890.123456)
    row = IngestReport(**{**row.__dict__, "health": text, "body": '{"health": "✓"}',
                          "commit_time": 1234567000.000001})
    assert store.ingest("n-ü", [row]).accepted == 1
    node = store.get_node("n-ü")
    assert node is not None
    assert node.health == text
    assert node.last_report == 1234567890.123456
    assert node.commit_time == 1234567000.000001
    assert store.node_reports("n-ü") == [{"health": "✓"}]


def test_summary_and_node_list_agree_on_every_state(store: SqlStore) -> None:
    """The summary works states out in Python, the node list in SQL: same answers."""
    combos = [(result, health, age)
              for result in ("applied", "unchanged", "failed", "rolled_back", "deferred")
              for health in ("Healthy", "healthy", "Progressing", "Degraded", "Suspended",
                             "TimedOut", None)
              for age in (10.0, 10_000.0)]
    store.add_nodes([(f"s{i}", "cloud", "r", f"hs{i}") for i in range(len(combos) + 1)])
    for i, (result, health, age) in enumerate(combos):
        row = _row(f"s{i}", created=time.time() - age, result=result)
        store.ingest(f"s{i}", [IngestReport(**{**row.__dict__, "health": health})])
    listed: dict[str, int] = {}
    for node in store.list_nodes(limit=10_000, offline_after=3600):
        listed[node.state] = listed.get(node.state, 0) + 1
    summed = {g.key: g.count for g in store.summary(offline_after=3600).by_state}
    assert summed == listed
    assert set(listed) == {"never", "offline", "failed", "deferred", "progressing",
                           "unhealthy", "healthy"}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_database_reduction_of_metrics_matches_the_reference(store: SqlStore,
                                                             seed: int) -> None:
    import random

    from fleet.metrics import inputs_from_history, metrics_report

    rng = random.Random(seed)
    nodes = [(f"m{i}", rng.choice(["cloud", "edge", "vehicle"])) for i in range(12)]
    store.add_nodes([(n, t, "", f"hm{seed}-{n}") for n, t in nodes])
    revisions = ["r1", "r2", "r3", ""]
    now = time.time()
    for step in range(300):
        node, tier = rng.choice(nodes)
        result = rng.choice(["applied", "unchanged", "failed", "rolled_back", "deferred"])
        desired = rng.choice([*revisions, None])
        applied = rng.choice([*revisions, None])
        row = IngestReport(
            idempotency_key=str(uuid.uuid4()), node=node, tier=tier, kind="result",
            created_at=now - 5000 + step * 10 + rng.random(), desired_revision=desired,
            applied_revision=applied, commit_time=rng.choice([None, now - 6000 + step]),
            apply_time=rng.choice([None, now - 4000 + step * 10]), result=result,
            health="Healthy", deferred_reason=None, failures=0, platform=None,
            agent_version=None, body="{}")
        store.ingest(node, [row])
    tiers = {"cloud": 4, "edge": 4, "vehicle": 4}
    since = now - 10_000
    for revision in ("r1", "r2", None):
        by_sql = metrics_report(store.delivery_inputs(since, revision), 1.0, tiers, revision)
        by_rows = metrics_report(inputs_from_history(store.history(since), revision), 1.0,
                                 tiers, revision)
        for report in (by_sql, by_rows):
            report.pop("generated_at")
        assert by_sql == by_rows
