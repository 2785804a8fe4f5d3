"""The fleet service's HTTP side (Starlette): ingest, queries, the page, metrics."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from fleet import overview
from fleet.api import auth, page
from fleet.api.openapi import document
from fleet.api.ratelimit import RateLimiter
from fleet.api.schema import SchemaError, parse_body, to_ingest
from fleet.errors import ConflictError, FleetError, NotFoundError, StoreError
from fleet.metrics import metrics_report
from fleet.rollout.waves import Wave
from fleet.store import STATES, NodeIdentity, SqlStore

log = logging.getLogger("fleet.api")

Handler = Callable[[Request], Awaitable[Response]]

SESSION_SECONDS = 12 * 3600
# How long a computed wave placement serves gate answers before the tier is listed again.
WAVE_CACHE_SECONDS = 15.0


@dataclass(frozen=True)
class Settings:
    max_body_bytes: int = 1024 * 1024
    rate_per_node: float = 5.0  # requests per second, sustained
    burst_per_node: float = 20.0
    offline_after: float = 3600.0
    metrics_window_days: float = 7.0
    metrics_ttl: float = 60.0  # seconds a computed set of delivery metrics is reused
    token_cache: int = 200_000


class _Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.ingested = Counter("fleet_reports_ingested", "Reports stored",
                                registry=self.registry)
        self.duplicates = Counter("fleet_reports_duplicate", "Reports already stored (retries)",
                                  registry=self.registry)
        self.rejected = Counter("fleet_requests_rejected", "Requests refused, by reason",
                                ["reason"], registry=self.registry)
        self.batch_seconds = Histogram("fleet_ingest_batch_seconds", "Time to store a batch",
                                       registry=self.registry)


def _error(status: int, message: str, *, retry_after: str | None = None,
           **extra: Any) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Bearer realm="fleet"'} if status == 401 else {}
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    return JSONResponse({"error": message, **extra}, status_code=status, headers=headers)


class FleetApp:
    def __init__(self, store: SqlStore, settings: Settings | None = None) -> None:
        self.store = store
        self.settings = settings or Settings()
        self.metrics = _Metrics()
        self.limiter = RateLimiter(self.settings.rate_per_node, self.settings.burst_per_node)
        self._node_tokens: dict[str, NodeIdentity] = {}
        self._openapi = json.dumps(document()).encode()
        self._delivery_cache: dict[tuple[float, str | None], tuple[float, dict[str, Any]]] = {}
        # (rollout id, tier) -> (computed at, node -> wave): every waiting node asks for its
        # gate each cycle, and placing it means listing its whole tier.
        self._waves: dict[tuple[int, str], tuple[float, dict[str, int]]] = {}

    # -- auth -------------------------------------------------------------------------
    async def _node(self, request: Request) -> NodeIdentity | None:
        token = auth.bearer(request.headers.get("authorization"))
        if token is None:
            return None
        digest = auth.token_hash(token)
        node = self._node_tokens.get(digest)
        if node is None:
            node = await run_in_threadpool(self.store.node_for_token, digest)
            if node is not None:
                if len(self._node_tokens) >= self.settings.token_cache:
                    self._node_tokens.clear()
                self._node_tokens[digest] = node
        return node

    async def _operator(self, request: Request) -> str | None:
        token = auth.bearer(request.headers.get("authorization"))
        if token is not None:
            return await run_in_threadpool(self.store.operator_for_token,
                                           auth.token_hash(token))
        session = request.cookies.get(auth.COOKIE)
        if not session or len(session) > 512:
            return None
        return await run_in_threadpool(self.store.session_operator, auth.token_hash(session))

    def _reject(self, reason: str, status: int, message: str, **extra: Any) -> JSONResponse:
        self.metrics.rejected.labels(reason).inc()
        return _error(status, message, **extra)

    # -- ingest -----------------------------------------------------------------------
    async def post_reports(self, request: Request) -> Response:
        node = await self._node(request)
        if node is None:
            return self._reject("unauthenticated", 401, "a valid node token is required")
        if not self.limiter.allow(node.name):
            response = self._reject("rate_limited", 429, f"node {node.name} sends too often")
            response.headers["Retry-After"] = "1"
            return response
        raw = await self._read_body(request)
        if raw is None:
            return self._reject("too_large", 413,
                                f"body larger than {self.settings.max_body_bytes} bytes")
        try:
            reports = parse_body(raw)
        except SchemaError as exc:
            extra = {"field": exc.field} | ({"index": exc.index} if exc.index is not None
                                             else {})
            return self._reject("invalid", 422, str(exc), **extra)
        for index, report in enumerate(reports):
            if report["node"] != node.name:
                return self._reject("forbidden", 403,
                                    f"reports[{index}].node: token of {node.name} cannot "
                                    "report for another node", field=f"reports[{index}].node",
                                    index=index)
            if report["tier"] != node.tier:
                return self._reject("forbidden", 403,
                                    f"reports[{index}].tier: {node.name} is enrolled in tier "
                                    f"{node.tier}", field=f"reports[{index}].tier",
                                    index=index)
        rows = [to_ingest(r) for r in reports]
        started = time.perf_counter()
        try:
            outcome = await run_in_threadpool(self.store.ingest, node.name, rows)
        except StoreError as exc:
            log.error("ingest failed for %s: %s", node.name, exc)
            return _error(503, "store unavailable, retry later", retry_after="5")
        self.metrics.batch_seconds.observe(time.perf_counter() - started)
        self.metrics.ingested.inc(outcome.accepted)
        self.metrics.duplicates.inc(outcome.duplicates)
        return JSONResponse({"accepted": outcome.accepted, "duplicates": outcome.duplicates})

    async def _read_body(self, request: Request) -> bytes | None:
        limit = self.settings.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return None
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    # -- queries ----------------------------------------------------------------------
    def operator_only(self, handler: Handler) -> Handler:
        async def guarded(request: Request) -> Response:
            if await self._operator(request) is None:
                return self._reject("unauthenticated", 401, "a valid operator token is required")
            try:
                return await handler(request)
            except StoreError as exc:
                log.error("query failed: %s", exc)
                return _error(503, "store unavailable, retry later", retry_after="5")
        return guarded

    async def get_nodes(self, request: Request) -> Response:
        q = request.query_params
        try:
            tier = _text_param(q.get("tier"), "tier")
            region = _text_param(q.get("region"), "region")
            state = q.get("state")
            if state is not None and state not in STATES:
                raise SchemaError("state", f"must be one of {', '.join(STATES)}")
            limit = _int_param(q.get("limit"), "limit", 1, 10000, 1000)
            offset = _int_param(q.get("offset"), "offset", 0, 2**31, 0)
        except SchemaError as exc:
            return self._reject("invalid", 422, str(exc), field=exc.field)
        nodes = await run_in_threadpool(
            lambda: self.store.list_nodes(tier=tier, region=region, state=state, limit=limit,
                                          offset=offset,
                                          offline_after=self.settings.offline_after))
        return JSONResponse({"nodes": [overview.node_dict(n) for n in nodes]})

    async def get_node(self, request: Request) -> Response:
        name = request.path_params["name"]
        if "\x00" in name or len(name) > 253:
            return _error(404, "no such node")
        node = await run_in_threadpool(self.store.get_node, name, self.settings.offline_after)
        if node is None:
            return _error(404, f"no such node: {name}")
        recent = await run_in_threadpool(self.store.node_reports, name, 20)
        return JSONResponse({"node": overview.node_dict(node), "reports": recent})

    async def get_summary(self, request: Request) -> Response:
        summary = await run_in_threadpool(self.store.summary, self.settings.offline_after)
        data = overview.counts(summary)
        data["by_state"] = [g.__dict__ for g in summary.by_state]
        data["by_revision"] = [g.__dict__ for g in summary.by_revision]
        return JSONResponse(data)

    async def get_status(self, request: Request) -> Response:
        try:
            limit = _int_param(request.query_params.get("limit"), "limit", 1, 100000, 100000)
        except SchemaError as exc:
            return self._reject("invalid", 422, str(exc), field=exc.field)
        data = await run_in_threadpool(overview.status, self.store, self.settings.offline_after,
                                       limit)
        return JSONResponse(data)

    async def get_metrics(self, request: Request) -> Response:
        raw = request.query_params.get("days")
        try:
            days = float(raw) if raw is not None else self.settings.metrics_window_days
        except ValueError:
            return self._reject("invalid", 422, "days: must be a number", field="days")
        if not 0.01 <= days <= 365:
            return self._reject("invalid", 422, "days: must be between 0.01 and 365",
                                field="days")
        try:
            revision = _text_param(request.query_params.get("revision"), "revision")
        except SchemaError as exc:
            return self._reject("invalid", 422, str(exc), field=exc.field)
        return JSONResponse(await run_in_threadpool(self.delivery, days, revision))

    def delivery(self, days: float, revision: str | None = None) -> dict[str, Any]:
        # Metrics read every result report in the window; over a large fleet that is
        # worth doing once a minute, not on every page view.
        key = (days, revision)
        cached = self._delivery_cache.get(key)
        if cached is not None and time.monotonic() - cached[0] < self.settings.metrics_ttl:
            return cached[1]
        data = self._compute_delivery(days, revision)
        if len(self._delivery_cache) > 32:
            self._delivery_cache.clear()
        self._delivery_cache[key] = (time.monotonic(), data)
        return data

    def _compute_delivery(self, days: float, revision: str | None) -> dict[str, Any]:
        summary = self.store.summary(self.settings.offline_after)
        counts = overview.counts(summary)
        tiers = {t: row["nodes"] for t, row in counts["tiers"].items()}
        revision = revision or summary.latest_revision
        inputs = self.store.delivery_inputs(time.time() - days * 86400, revision)
        return metrics_report(inputs, days, tiers, revision)

    # -- rollouts ---------------------------------------------------------------------
    async def get_rollout(self, request: Request) -> Response:
        from fleet import rollout

        raw = request.path_params.get("rollout_id")
        try:
            rollout_id = None if raw is None else _int_param(raw, "rollout_id", 1, 2**31 - 1, 1)
            data = await run_in_threadpool(rollout.status, self.store, rollout_id)
        except SchemaError as exc:
            return self._reject("invalid", 422, str(exc), field=exc.field)
        except NotFoundError as exc:
            return _error(404, str(exc))
        return JSONResponse(data)

    async def get_gate(self, request: Request) -> Response:
        """What the latest rollout allows the calling node (node token)."""
        from fleet import rollout

        node = await self._node(request)
        if node is None:
            return self._reject("unauthenticated", 401, "a valid node token is required")

        def answer() -> dict[str, Any]:
            record = self.store.get_rollout()
            assignment: dict[str, int] = {}
            if record is not None and record.state == "running":
                key = (record.id, node.tier)
                now = time.monotonic()
                cached = self._waves.get(key)
                if cached is None or now - cached[0] > WAVE_CACHE_SECONDS:
                    if len(self._waves) > 64:
                        self._waves.clear()
                    cached = (now, rollout.wave_assignment(self.store, record, node.tier))
                    self._waves[key] = cached
                assignment = cached[1]
            return rollout.gate(record, node, assignment)

        try:
            data = await run_in_threadpool(answer)
        except StoreError as exc:
            log.error("gate query failed for %s: %s", node.name, exc)
            return _error(503, "store unavailable, retry later", retry_after="5")
        return JSONResponse(data, headers={"Cache-Control": "no-store"})

    async def post_rollout(self, request: Request) -> Response:
        from fleet import rollout

        raw = await self._read_body(request)
        if raw is None:
            return self._reject("too_large", 413, "body too large")
        try:
            revision, waves, gate = _rollout_body(raw)
            record = await run_in_threadpool(rollout.start, self.store, revision, waves, gate)
            data = await run_in_threadpool(rollout.status, self.store, record.id)
        except SchemaError as exc:
            return self._reject("invalid", 422, str(exc), field=exc.field)
        except ConflictError as exc:
            return _error(409, str(exc))
        except FleetError as exc:
            return self._reject("invalid", 422, str(exc), field="waves")
        return JSONResponse(data, status_code=201)

    async def change_rollout(self, request: Request) -> Response:
        from fleet import rollout

        action = request.path_params["action"]
        try:
            rollout_id = _int_param(request.path_params["rollout_id"], "rollout_id", 1,
                                    2**31 - 1, 1)
            force = request.query_params.get("force", "false").lower() in ("1", "true", "yes")
            if action == "promote":
                data = await run_in_threadpool(rollout.promote, self.store, rollout_id, force)
            elif action == "abort":
                data = await run_in_threadpool(rollout.abort, self.store, rollout_id)
            else:
                return _error(404, f"no such action: {action}")
        except SchemaError as exc:
            return self._reject("invalid", 422, str(exc), field=exc.field)
        except NotFoundError as exc:
            return _error(404, str(exc))
        except ConflictError as exc:
            return _error(409, str(exc))
        return JSONResponse(data)

    # -- the page ---------------------------------------------------------------------
    async def dashboard(self, request: Request) -> Response:
        operator = await self._operator(request)
        if operator is None:
            return RedirectResponse("/login", status_code=303)

        def render() -> str:
            status = overview.counts(self.store.summary(self.settings.offline_after))
            attention = [overview.node_dict(n) for n in self.store.list_nodes(
                limit=50, offline_after=self.settings.offline_after) if n.state != "healthy"]
            metrics = self.delivery(self.settings.metrics_window_days)
            generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
            latest = self.store.get_rollout()
            plan = None
            if latest is not None and latest.state == "running":
                from fleet import rollout

                plan = rollout.status(self.store, latest.id)
            return page.dashboard(status, attention, metrics, operator, generated,
                                  rollout=plan)

        html = await run_in_threadpool(render)
        return HTMLResponse(html, headers={"Cache-Control": "no-store",
                                           "Content-Security-Policy":
                                               "default-src 'none'; style-src 'unsafe-inline'; "
                                               "form-action 'self'; img-src 'self'"})

    async def login_form(self, request: Request) -> Response:
        return HTMLResponse(page.login())

    async def login(self, request: Request) -> Response:
        raw = await self._read_body(request)
        if raw is None:
            return self._reject("too_large", 413, "login form too large")
        token = (parse_qs(raw.decode("utf-8", "replace")).get("token") or [""])[0].strip()
        operator = None
        if token and len(token) <= 512:
            operator = await run_in_threadpool(self.store.operator_for_token,
                                               auth.token_hash(token))
        if operator is None:
            self.metrics.rejected.labels("unauthenticated").inc()
            return HTMLResponse(page.login("That token is not an operator token."),
                                status_code=401)
        session = auth.new_token()
        await run_in_threadpool(self.store.create_session, auth.token_hash(session), operator,
                                time.time() + SESSION_SECONDS)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(auth.COOKIE, session, httponly=True, samesite="strict",
                            secure=request.url.scheme == "https", max_age=SESSION_SECONDS)
        return response

    async def logout(self, request: Request) -> Response:
        session = request.cookies.get(auth.COOKIE)
        if session and len(session) <= 512:
            await run_in_threadpool(self.store.delete_session, auth.token_hash(session))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(auth.COOKIE)
        return response

    # -- plumbing ---------------------------------------------------------------------
    async def healthz(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def prometheus(self, request: Request) -> Response:
        return Response(generate_latest(self.metrics.registry),
                        media_type="text/plain; version=0.0.4")

    async def openapi(self, request: Request) -> Response:
        return Response(self._openapi, media_type="application/json")

    async def store_down(self, request: Request, exc: Exception) -> Response:
        # Any store failure (auth lookups included) is the service's outage, not the
        # caller's fault: 503 with Retry-After, so agents keep their reports and retry.
        log.error("store unavailable: %s", exc)
        return _error(503, "store unavailable, retry later", retry_after="5")

    def asgi(self) -> Starlette:
        guard = self.operator_only
        return Starlette(exception_handlers={StoreError: self.store_down}, routes=[
            Route("/", self.dashboard),
            Route("/login", self.login_form, methods=["GET"]),
            Route("/login", self.login, methods=["POST"]),
            Route("/logout", self.logout, methods=["POST"]),
            Route("/healthz", self.healthz),
            Route("/metrics", self.prometheus),
            Route("/openapi.json", self.openapi),
            Route("/v1/reports", self.post_reports, methods=["POST"]),
            Route("/v1/nodes", guard(self.get_nodes)),
            Route("/v1/nodes/{name:path}", guard(self.get_node)),
            Route("/v1/summary", guard(self.get_summary)),
            Route("/v1/status", guard(self.get_status)),
            Route("/v1/metrics", guard(self.get_metrics)),
            Route("/v1/rollouts", guard(self.post_rollout), methods=["POST"]),
            Route("/v1/rollouts/latest", guard(self.get_rollout), methods=["GET"]),
            Route("/v1/rollouts/gate", self.get_gate, methods=["GET"]),
            Route("/v1/rollouts/{rollout_id}", guard(self.get_rollout), methods=["GET"]),
            Route("/v1/rollouts/{rollout_id}/{action}", guard(self.change_rollout),
                  methods=["POST"]),
        ])


def _text_param(value: str | None, name: str) -> str | None:
    if value is None:
        return None
    if len(value) > 253 or "\x00" in value:
        raise SchemaError(name, "must be at most 253 characters without NUL")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise SchemaError(name, "must be valid Unicode") from None
    return value


def _int_param(value: str | None, name: str, low: int, high: int, default: int) -> int:
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise SchemaError(name, "must be an integer") from None
    if not low <= number <= high:
        raise SchemaError(name, f"must be between {low} and {high}")
    return number


def _rollout_body(raw: bytes) -> tuple[str, list[Wave], float]:
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise SchemaError("body", "not valid JSON") from None
    if not isinstance(data, dict) or set(data) - {"revision", "waves", "gate"}:
        raise SchemaError("body", "must be an object with revision, waves and gate")
    revision = data.get("revision")
    if not isinstance(revision, str) or not 1 <= len(revision) <= 128 or "\x00" in revision:
        raise SchemaError("revision", "required, a string of 1 to 128 characters")
    _text_param(revision, "revision")
    waves = data.get("waves")
    if not isinstance(waves, list) or not 1 <= len(waves) <= 50:
        raise SchemaError("waves", "required, a list of 1 to 50 waves")
    parsed = []
    for i, wave in enumerate(waves):
        if (not isinstance(wave, dict) or set(wave) != {"tier", "percent"}
                or not isinstance(wave["tier"], str) or not 1 <= len(wave["tier"]) <= 63
                or isinstance(wave["percent"], bool)
                or not isinstance(wave["percent"], int | float)
                or not 0 < wave["percent"] <= 100):
            raise SchemaError(f"waves[{i}]", "must be {tier, percent} with 0 < percent <= 100")
        _text_param(wave["tier"], f"waves[{i}].tier")
        parsed.append(Wave(wave["tier"], float(wave["percent"])))
    gate = data.get("gate", 0.95)
    if isinstance(gate, bool) or not isinstance(gate, int | float) or not 0 <= gate <= 1:
        raise SchemaError("gate", "must be a number between 0 and 1")
    return revision, parsed, float(gate)


def create_app(store: SqlStore, settings: Settings | None = None) -> Starlette:
    return FleetApp(store, settings).asgi()
