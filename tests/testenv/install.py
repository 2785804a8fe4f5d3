"""Install step: Debian packages, the busybox .debs for the seeded images, and Go builds.

Idempotent and fast when everything is present: it checks before calling apt or go.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import time
from pathlib import Path

from tests.testenv import paths, versions
from tests.testenv.procs import TestenvError, run

# Everything the test suite needs from Debian, in one place.
DEBIAN_PACKAGES = (
    "git",  # git-http-backend, git daemon
    "lighttpd",  # smart-HTTP Git server
    "apache2-utils",  # htpasswd (bcrypt) for lighttpd and the registry
    "docker-registry",  # the CNCF distribution registry
    "etcd-server",  # Kubernetes' store
    "postgresql",  # fleet store tests
    "openssl",  # cluster certificates
    "ca-certificates",
    "chromium",  # dashboard tests
    "chromium-driver",
    "skopeo",  # reference client the image tests compare against
    "openssh-server",  # signature tests
    "openssh-client",
    "gnupg",
    "systemd",  # systemd-analyze for the unit file tests
)

BUSYBOX_ARCHES = ("amd64", "arm64")

APT_ENV = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}


def say(msg: str) -> None:
    print(f"testenv install: {msg}", flush=True)


def missing_packages(names: tuple[str, ...] = DEBIAN_PACKAGES) -> list[str]:
    result = subprocess.run(
        ["dpkg-query", "-W", "-f=${Package} ${db:Status-Status}\n", *names],
        capture_output=True,
        text=True,
        check=False,
    )
    installed = {
        line.split()[0] for line in result.stdout.splitlines() if line.endswith(" installed")
    }
    return [name for name in names if name not in installed]


class Apt:
    """apt-get with one `update` per run, done only when something must be fetched."""

    def __init__(self) -> None:
        self.updated = False

    def update(self) -> None:
        if not self.updated:
            say("apt-get update")
            run(["apt-get", "update", "-q"], what="apt-get update", env=APT_ENV)
            self.updated = True

    def install(self, names: list[str]) -> None:
        self.update()
        say(f"apt-get install {' '.join(names)}")
        argv = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *names]
        run(argv, what="apt-get install", env=APT_ENV, stdin=subprocess.DEVNULL)


def busybox_deb(arch: str) -> Path | None:
    found = sorted(paths.DEB_CACHE.glob(f"busybox-static_*_{arch}.deb"))
    return found[-1] if found else None


def fetch_busybox_debs(apt: Apt) -> None:
    if all(busybox_deb(arch) for arch in BUSYBOX_ARCHES):
        return
    foreign = run(["dpkg", "--print-foreign-architectures"], what="dpkg").stdout.split()
    if "arm64" not in foreign:
        say("dpkg --add-architecture arm64 (to download the arm64 busybox)")
        run(["dpkg", "--add-architecture", "arm64"], what="dpkg --add-architecture")
        apt.updated = False
    apt.update()
    paths.DEB_CACHE.mkdir(parents=True, exist_ok=True)
    say("apt-get download busybox-static for " + ", ".join(BUSYBOX_ARCHES))
    argv = ["apt-get", "download", *(f"busybox-static:{arch}" for arch in BUSYBOX_ARCHES)]
    run(argv, what="apt-get download", cwd=paths.DEB_CACHE, env=APT_ENV)


def go_tool() -> str:
    found = shutil.which("go") or shutil.which("go", path="/usr/local/go/bin")
    if found is None:
        raise TestenvError("the Go toolchain is needed to build Kubernetes and kwok (no `go`)")
    return found


def binary(name: str) -> Path:
    """The cached binary of `name` at its pinned version."""
    version = versions.KWOK if name == "kwok" else versions.KUBERNETES
    return paths.BIN_CACHE / f"{name}-{version}"


def _version_ldflags() -> str:
    version = versions.KUBERNETES
    minor = version.split(".")[1]
    flags = ["-s", "-w"]
    # Without these the binaries report v0.0.0 and clients warn about version skew.
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [
            f"-X {pkg}.gitVersion={version}",
            f"-X {pkg}.gitMajor=1",
            f"-X {pkg}.gitMinor={minor}",
            f"-X {pkg}.gitTreeState=clean",
        ]
    return " ".join(flags)


def _go_build(
    name: str, argv: list[str], cwd: Path, extra_env: dict[str, str], built: Path | None = None
) -> None:
    """Run `go build -o` (or `go install`, which leaves its output at `built`)."""
    target = binary(name)
    tmp = target.with_suffix(f".tmp{os.getpid()}")
    if built is None:
        argv = [argv[0], "-o", str(tmp), *argv[1:]]
    env = {**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-trimpath -buildvcs=false", **extra_env}
    say(f"building {target.name} (slow the first time: several minutes on 2 cores)")
    started = time.monotonic()
    result = subprocess.run(
        [go_tool(), *argv], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        output = result.stdout[-3000:] + result.stderr[-3000:]
        raise TestenvError(f"go {argv[0]} of {name} failed:\n{output}")
    (built or tmp).replace(target)
    say(f"built {target.name} in {time.monotonic() - started:.0f}s")


def build_go_binaries() -> None:
    paths.BIN_CACHE.mkdir(parents=True, exist_ok=True)
    # Two checkouts installing at once (a developer and CI) build each binary once.
    with open(paths.BIN_CACHE / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _build_missing()


def _build_missing() -> None:
    for name in versions.KUBE_COMMANDS:
        if not binary(name).exists():
            argv = ["build", f"-ldflags={_version_ldflags()}", f"k8s.io/kubernetes/cmd/{name}"]
            _go_build(name, argv, paths.HERE / "k8s", {})
    if not binary("kwok").exists():
        # `go install pkg@version` builds kwok with its own go.mod, outside any module here.
        gobin = paths.CACHE / "kwok-gobin"
        argv = ["install", "-ldflags=-s -w", f"sigs.k8s.io/kwok/cmd/kwok@{versions.KWOK}"]
        _go_build("kwok", argv, paths.CACHE, {"GOBIN": str(gobin)}, built=gobin / "kwok")


def install() -> None:
    started = time.monotonic()
    apt = Apt()
    missing = missing_packages()
    if missing:
        apt.install(missing)
    fetch_busybox_debs(apt)
    build_go_binaries()
    say(f"everything present ({time.monotonic() - started:.1f}s)")
