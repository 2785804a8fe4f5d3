"""Bring components up (reusing live ones), take them down, and the fault hooks."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from tests.testenv import paths
from tests.testenv.procs import (
    ProcSpec,
    Running,
    TestenvError,
    is_alive,
    port_open,
    spawn,
    stop,
    wait_ready,
)
from tests.testenv.readiness import probe
from tests.testenv.state import Component, ProcRecord, State, load, locked, pid_alive, save

ALL = ("kube", "git", "registry", "postgres")


@dataclass(frozen=True)
class Fault:
    component: str
    servers: tuple[str, ...]  # processes that `stop`/`start` act on, in start order
    proxy: str  # the forwarder that `cut`/`restore` act on


FAULTS = {
    "apiserver": Fault("kube", ("kube-apiserver",), "apiserver-proxy"),
    "git": Fault("git", ("lighttpd", "git-daemon"), "git-proxy"),
    "registry": Fault("registry", ("registry",), "registry-proxy"),
    "postgres": Fault("postgres", ("postgres",), "postgres-proxy"),
}


class Launcher:
    """Starts one component's processes in order and records them as they come up."""

    def __init__(self, component: Component) -> None:
        self.component = component

    def launch(self, spec: ProcSpec, ready: dict[str, object], timeout: float) -> Running:
        record = ProcRecord(spec, None, dict(ready))
        self.component.procs[spec.name] = record
        record.running = spawn(spec)
        wait_ready(spec, record.running, probe(record.ready), timeout)
        return record.running

    def launch_together(self, batch: list[tuple[ProcSpec, dict[str, object], float]]) -> None:
        """Start independent processes at once, then wait for each: start-up overlaps."""
        records = []
        for spec, ready, _ in batch:
            record = ProcRecord(spec, None, dict(ready))
            self.component.procs[spec.name] = record
            record.running = spawn(spec)
            records.append(record)
        for record, (_, _, timeout) in zip(records, batch, strict=True):
            assert record.running is not None
            wait_ready(record.spec, record.running, probe(record.ready), timeout)

    def forwarder(self, name: str, routes: list[tuple[int, int]]) -> None:
        argv = [sys.executable, "-m", "tests.testenv.proxy"]
        argv += [f"{listen}:{target}" for listen, target in routes]
        spec = ProcSpec(name, argv, log(name), cwd=str(paths.REPO))
        self.launch(spec, {"tcp": routes[0][0]}, 10)


def log(name: str) -> str:
    return str(paths.LOG_DIR / f"{name}.log")


def _starter(name: str) -> Callable[[Launcher], None]:
    # Imported lazily: each server module pulls in only what it needs.
    if name == "kube":
        from tests.testenv.servers import kube

        return kube.start
    if name == "git":
        from tests.testenv.servers import git

        return git.start
    if name == "registry":
        from tests.testenv.servers import registry

        return registry.start
    if name == "postgres":
        from tests.testenv.servers import postgres

        return postgres.start
    raise TestenvError(f"unknown component {name!r}; known: {', '.join(ALL)}")


def _start_component(name: str, origin: str, attempts: int = 2) -> Component:
    for attempt in range(1, attempts + 1):
        component = Component(name, origin)
        started = time.monotonic()
        print(f"testenv: starting {name} ...", flush=True)
        try:
            _starter(name)(Launcher(component))
        except TestenvError as exc:
            stop_component(component)
            if attempt == attempts:
                raise
            # Most likely another process took a port between our choice and the bind.
            print(f"testenv: {name} failed to start, once more:\n{exc}", flush=True)
            continue
        except BaseException:
            stop_component(component)
            raise
        print(f"testenv: {name} ready in {time.monotonic() - started:.1f}s", flush=True)
        return component
    raise AssertionError("unreachable")


def _revive(component: Component) -> None:
    """Restart the processes of a component that died (e.g. a test stopped one and failed)."""
    for record in component.procs.values():
        # running is None: a test stopped it on purpose and will start it again itself.
        if record.running is not None and not record.alive():
            print(f"testenv: restarting {record.spec.name}", flush=True)
            record.running = spawn(record.spec)
            wait_ready(record.spec, record.running, probe(record.ready), 120)


def ensure(names: Iterable[str], origin: str) -> State:
    """Make the named components run, starting missing ones in parallel; returns the state."""
    wanted = list(dict.fromkeys(names))
    with locked():
        state = load()
        missing = []
        for name in wanted:
            component = state.components.get(name)
            if component is None or not any(r.alive() for r in component.procs.values()):
                # Never started, or left over from a machine that stopped: start afresh.
                missing.append(name)
            else:
                _revive(component)
                if origin == "up":
                    component.origin = origin  # adopted: test sessions will leave it running
        errors: list[BaseException] = []
        if missing:
            with ThreadPoolExecutor(max_workers=len(missing)) as pool:
                futures = {n: pool.submit(_start_component, n, origin) for n in missing}
            for name, future in futures.items():
                exc = future.exception()
                if exc is None:
                    state.components[name] = future.result()
                else:
                    errors.append(exc)
        save(state)
    if errors:
        raise TestenvError("\n\n".join(str(e) for e in errors))
    return state


def stop_component(component: Component) -> None:
    # Reverse start order: clients (kwok, proxies) before the servers they talk to.
    for record in reversed(list(component.procs.values())):
        if record.running is not None:
            stop(record.running, record.spec.stop_signal)


def down(names: Iterable[str] | None = None) -> list[str]:
    """Stop components by PID (all if no names); returns what was stopped."""
    with locked():
        state = load()
        chosen = list(state.components) if names is None else list(names)
        for name in chosen:
            component = state.components.pop(name, None)
            if component is not None:
                stop_component(component)
        save(state)
    return chosen


def join_session(pid: int) -> None:
    with locked():
        state = load()
        state.sessions = [p for p in state.sessions if pid_alive(p) and p != pid] + [pid]
        save(state)


def leave_session(pid: int) -> list[str]:
    """A test session ends: the last one out stops what test sessions started.

    Components started by `up` are left alone; so are those another live session uses.
    """
    with locked():
        state = load()
        state.sessions = [p for p in state.sessions if pid_alive(p) and p != pid]
        stopped = []
        if not state.sessions:
            for name, component in list(state.components.items()):
                if component.origin.startswith("fixture:"):
                    stop_component(component)
                    del state.components[name]
                    stopped.append(name)
        save(state)
    return stopped


def _fault(name: str) -> Fault:
    if name not in FAULTS:
        raise TestenvError(f"no fault hook for {name!r}; known: {', '.join(FAULTS)}")
    return FAULTS[name]


def _component(state: State, fault: Fault) -> Component:
    component = state.components.get(fault.component)
    if component is None:
        raise TestenvError(f"{fault.component} is not running; start it first")
    return component


def stop_server(name: str) -> None:
    """Stop the real server (its proxy stays: clients get resets, not refusals)."""
    fault = _fault(name)
    with locked():
        state = load()
        component = _component(state, fault)
        for server in reversed(fault.servers):
            record = component.procs[server]
            if record.running is not None:
                stop(record.running, record.spec.stop_signal)
            record.running = None
        save(state)


def start_server(name: str) -> None:
    """Start a stopped server again with the same arguments, ports and data."""
    fault = _fault(name)
    with locked():
        state = load()
        component = _component(state, fault)
        for server in fault.servers:
            record = component.procs[server]
            if not record.alive():
                record.running = spawn(record.spec)
                save(state)
                wait_ready(record.spec, record.running, probe(record.ready), 120)
        save(state)


def signal_forwarder(forwarder: Running, port: int, cut: bool) -> None:
    """Cut (SIGUSR1) or restore (SIGUSR2) a forwarder; returns once its port agrees."""
    if not is_alive(forwarder):
        raise TestenvError(f"the forwarder on port {port} is not running")
    os.kill(forwarder.pid, signal.SIGUSR1 if cut else signal.SIGUSR2)
    deadline = time.monotonic() + 10
    while port_open(port) == cut:
        if time.monotonic() > deadline:
            raise TestenvError(f"port {port} did not {'close' if cut else 'open'} in 10s")
        time.sleep(0.02)


def _signal_proxy(name: str, cut: bool) -> None:
    fault = _fault(name)
    with locked():
        record = _component(load(), fault).procs[fault.proxy]
        if record.running is None:
            raise TestenvError(f"the {name} forwarder is not running")
        signal_forwarder(record.running, int(record.ready["tcp"]), cut)


def cut(name: str) -> None:
    """Close the server's public port and abort open connections; the server keeps running."""
    _signal_proxy(name, cut=True)


def restore(name: str) -> None:
    _signal_proxy(name, cut=False)
