"""Prometheus metrics of the daemon, in a private registry served on `daemon.metrics_listen`."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, disable_created_metrics


class Metrics:
    def __init__(self) -> None:
        # `*_created` series double the scrape size and say nothing an agent operator needs.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = CollectorRegistry()
        r = self.registry
        self.last_sync = Gauge("edgesync_last_sync_timestamp_seconds",
                               "When the last sync cycle ended (Unix time)", registry=r)
        self.last_success = Gauge("edgesync_last_sync_success",
                                  "1 if the last sync converged and is healthy, else 0",
                                  registry=r)
        self.last_result = Gauge("edgesync_last_sync_result",
                                 "1 for the outcome of the last sync cycle", ["result"],
                                 registry=r)
        self.syncs = Counter("edgesync_syncs", "Sync cycles by outcome", ["result"], registry=r)
        self.deferred = Counter("edgesync_deferred", "Cycles deferred by lock or window",
                                registry=r)
        self.failed = Counter("edgesync_failed", "Cycles or polls that failed", registry=r)
        self.polls = Counter("edgesync_polls", "Source polls (one ls-remote each)", ["changed"],
                             registry=r)
        self.revision = Gauge("edgesync_revision_info", "The applied revision", ["revision"],
                              registry=r)
        self.stage_seconds = Gauge("edgesync_stage_duration_seconds",
                                   "Duration of each stage in the last cycle", ["stage"],
                                   registry=r)
        self.fetched_bytes = Counter("edgesync_fetched_bytes", "Pack bytes fetched from Git",
                                     registry=r)
        self.changes = Counter("edgesync_changes", "Objects changed by apply", ["action"],
                               registry=r)
        self.consecutive_failures = Gauge("edgesync_consecutive_failures",
                                          "Failures since the last success", registry=r)
        self._results = ("applied", "unchanged", "failed", "rolled-back", "deferred")
        self._revision: str | None = None

    def record(self, result: Any, at: float) -> None:
        """Account one `SyncResult`."""
        outcome = str(result.result)
        self.syncs.labels(outcome).inc()
        for name in self._results:
            self.last_result.labels(name).set(1 if name == outcome else 0)
        self.last_sync.set(at)
        self.last_success.set(1 if result.ok else 0)
        if outcome == "deferred":
            self.deferred.inc()
        elif not result.ok:
            self.failed.inc()
        for stage, seconds in (result.durations or {}).items():
            self.stage_seconds.labels(stage).set(seconds)
        for action, count in (result.changes or {}).items():
            if action != "unchanged":
                self.changes.labels(action).inc(count)
        if result.ok and result.revision and result.revision != self._revision:
            if self._revision:
                self.revision.remove(self._revision)
            self.revision.labels(result.revision).set(1)
            self._revision = result.revision

    def serve(self, listen: str) -> Any:
        """Start the HTTP endpoint on `host:port`; returns the server (to shut it down)."""
        from prometheus_client import start_http_server

        host, _, port = listen.rpartition(":")
        server, _thread = start_http_server(int(port), addr=host.strip("[]") or "127.0.0.1",
                                            registry=self.registry)
        return server
