"""Optional pre-pull of pinned images through the node's CRI (`crictl pull`).

Pulling before the apply means the switch-over does not wait on the network.
It runs only when enabled (`images.prepull`), `crictl` is on PATH and a CRI
socket exists; otherwise it is skipped with the reason logged. Registry
credentials are left to the container runtime's own configuration: passing
them on a command line would show them to every process on the node.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

log = logging.getLogger("edgesync.images")

CRI_SOCKETS = (
    "/run/containerd/containerd.sock",
    "/run/k3s/containerd/containerd.sock",
    "/var/run/crio/crio.sock",
    "/run/crio/crio.sock",
    "/var/run/cri-dockerd.sock",
)
PULL_TIMEOUT = 900.0


@dataclass(frozen=True)
class PrepullPlan:
    run: bool
    reason: str
    commands: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True)
class PulledImage:
    image: str
    ok: bool
    seconds: float
    bytes: int | None
    error: str | None = None


@dataclass(frozen=True)
class PrepullReport:
    plan: PrepullPlan
    images: tuple[PulledImage, ...] = ()

    @property
    def total_bytes(self) -> int:
        return sum(i.bytes or 0 for i in self.images)

    @property
    def seconds(self) -> float:
        return sum(i.seconds for i in self.images)


def plan_prepull(images: Sequence[str], *, enabled: bool, crictl: str | None = None,
                 sockets: Sequence[str] = CRI_SOCKETS,
                 exists: Callable[[str], bool] = os.path.exists) -> PrepullPlan:
    """Decide whether to pre-pull and, if so, the exact `crictl` command lines."""
    if not enabled:
        return PrepullPlan(False, "images.prepull is off")
    if not images:
        return PrepullPlan(False, "no images to pull")
    binary = crictl if crictl is not None else shutil.which("crictl")
    if not binary:
        return PrepullPlan(False, "crictl is not installed")
    socket = next((s for s in sockets if exists(s)), None)
    if socket is None:
        return PrepullPlan(False, f"no CRI socket found (looked at {', '.join(sockets)})")
    endpoint = f"unix://{socket}"
    commands = tuple((binary, "--runtime-endpoint", endpoint, "pull", image)
                     for image in dict.fromkeys(images))
    return PrepullPlan(True, f"pulling {len(commands)} image(s) through {endpoint}", commands)


Runner = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]


def _run(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=PULL_TIMEOUT,
                          check=False)


def prepull(plan: PrepullPlan, runner: Runner = _run) -> PrepullReport:
    """Run the plan's pulls one by one, measuring time and the image size the CRI reports."""
    if not plan.run:
        log.info("image pre-pull skipped: %s", plan.reason)
        return PrepullReport(plan)
    pulled: list[PulledImage] = []
    for argv in plan.commands:
        image = argv[-1]
        start = time.monotonic()
        try:
            done = runner(argv)
        except (OSError, subprocess.TimeoutExpired) as exc:
            pulled.append(PulledImage(image, False, time.monotonic() - start, None, str(exc)))
            continue
        seconds = time.monotonic() - start
        if done.returncode != 0:
            pulled.append(PulledImage(image, False, seconds, None,
                                      (done.stderr or done.stdout).strip()[:300]))
            continue
        inspect = [*argv[:-2], "inspecti", "-o", "json", image]
        pulled.append(PulledImage(image, True, seconds, _size(runner, inspect)))
    report = PrepullReport(plan, tuple(pulled))
    log.info("image pre-pull: %d of %d pulled, %d bytes in %.1fs",
             sum(p.ok for p in pulled), len(pulled), report.total_bytes, report.seconds)
    return report


def _size(runner: Runner, argv: Sequence[str]) -> int | None:
    try:
        done = runner(argv)
        size = json.loads(done.stdout)["status"]["size"]
        return int(size)
    except (OSError, subprocess.TimeoutExpired, ValueError, KeyError, TypeError):
        return None
