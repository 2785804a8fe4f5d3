"""Build dist/edgesync-agent_<version>_all.deb around the zipapp.

    python packaging/build_deb.py --pyz dist/edge-agent.pyz [--out dist]

The package installs the zipapp as /usr/bin/edge-agent, the unit under
/lib/systemd/system, the service user's sysusers.d entry and the config template
under /etc/edgesync. Its maintainer scripts honour $DPKG_ROOT, so it also installs
into a scratch root (`dpkg --root DIR --force-script-chrootless`), as the tests do.
It never enables or starts the service: the operator writes agent.yaml first.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "edgesync-agent"

CONTROL = """\
Package: {package}
Version: {version}
Architecture: all
Maintainer: edgesync maintainers <maintainers@edgesync.invalid>
Depends: python3 (>= 3.11), git
Recommends: openssh-client, gnupg
Section: admin
Priority: optional
Installed-Size: {size_kib}
Homepage: https://edgesync.invalid
Description: GitOps sync agent for edge fleets
 Keeps a node's Kubernetes workloads in step with its tier's overlay in a
 fleet Git repo: renders, pins images, applies with server-side apply, rolls
 back on failure and reports to the fleet service. Single-file build for
 any architecture with Python 3.11 or newer.
"""

POSTINST = """\
#!/bin/sh
set -e
if [ "$1" = configure ]; then
    # The service user; DPKG_ROOT is set when installing into another root.
    if command -v systemd-sysusers >/dev/null 2>&1; then
        systemd-sysusers --root "${DPKG_ROOT:-/}" edgesync.conf
    elif [ -z "$DPKG_ROOT" ] && ! getent passwd edgesync >/dev/null; then
        adduser --system --group --home /var/lib/edgesync --no-create-home edgesync
    fi
    if [ -z "$DPKG_ROOT" ] && [ -d /run/systemd/system ]; then
        systemctl daemon-reload || true
    fi
    echo "edgesync-agent: write /etc/edgesync/agent.yaml (see agent.yaml.example), then" >&2
    echo "  systemctl enable --now edge-agent.service" >&2
fi
exit 0
"""

PRERM = """\
#!/bin/sh
set -e
if [ "$1" = remove ] && [ -z "$DPKG_ROOT" ] && [ -d /run/systemd/system ]; then
    systemctl disable --now edge-agent.service || true
fi
exit 0
"""

POSTRM = """\
#!/bin/sh
set -e
if [ -z "$DPKG_ROOT" ] && [ -d /run/systemd/system ]; then
    systemctl daemon-reload || true
fi
if [ "$1" = purge ]; then
    rm -rf "${DPKG_ROOT}/var/lib/edgesync" "${DPKG_ROOT}/var/cache/edgesync"
fi
exit 0
"""

# (source, path inside the package, mode)
FILES = (
    (REPO / "packaging" / "systemd" / "edge-agent.service", "lib/systemd/system/edge-agent.service",
     0o644),
    (REPO / "packaging" / "systemd" / "edgesync.sysusers.conf", "usr/lib/sysusers.d/edgesync.conf",
     0o644),
    (REPO / "packaging" / "agent.yaml.example", "etc/edgesync/agent.yaml.example", 0o644),
)


def version() -> str:
    return str(tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"])


def build(pyz: Path, out_dir: Path) -> Path:
    with tempfile.TemporaryDirectory(prefix="edgesync-deb-") as tmp:
        root = Path(tmp) / PACKAGE
        placed = [(pyz, "usr/bin/edge-agent", 0o755), *FILES]
        for source, target, mode in placed:
            dest = root / target
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, dest)
            dest.chmod(mode)
        size_kib = sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) // 1024 + 1
        debian = root / "DEBIAN"
        debian.mkdir()
        (debian / "control").write_text(CONTROL.format(package=PACKAGE, version=version(),
                                                       size_kib=size_kib))
        (debian / "conffiles").write_text("/etc/edgesync/agent.yaml.example\n")
        for name, text in (("postinst", POSTINST), ("prerm", PRERM), ("postrm", POSTRM)):
            (debian / name).write_text(text)
            (debian / name).chmod(0o755)
        for d in [root, *root.rglob("*")]:
            if d.is_dir():
                d.chmod(0o755)
        out_dir.mkdir(parents=True, exist_ok=True)
        deb = out_dir / f"{PACKAGE}_{version()}_all.deb"
        subprocess.run(["dpkg-deb", "--root-owner-group", "-Zxz", "--build", str(root),
                        str(deb)], check=True)
    return deb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pyz", type=Path, default=REPO / "dist" / "edge-agent.pyz")
    parser.add_argument("--out", type=Path, default=REPO / "dist")
    args = parser.parse_args()
    if not args.pyz.is_file():
        raise SystemExit(f"{args.pyz}: no zipapp; run packaging/build_zipapp.py first")
    deb = build(args.pyz, args.out)
    print(f"built {deb} ({deb.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
