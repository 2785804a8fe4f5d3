"""Build dist/edge-agent.pyz: one file that runs with the system Python 3.11+ on amd64 and arm64.

    python packaging/build_zipapp.py [--out dist/edge-agent.pyz]

The agent's dependencies (not the fleet extras, and not the distributions in
LEFT_OUT, which the agent never imports) are installed into a staging
site-packages, then made architecture-neutral:
  * a compiled extension whose package has a pure-Python fallback is removed (PyYAML,
    charset-normalizer, aiohttp and its helpers all import their Python twin when the
    extension is missing), so the archive stays small;
  * any other extension gets its twins: the wheels for every supported CPython on both
    architectures are downloaded and their extension modules put beside it. Each file
    carries its ABI tag in its name (`*.cpython-312-aarch64-linux-gnu.so`), so the
    interpreter loads the one that matches it.
shiv then packs the result; at first start it unpacks into $SHIV_ROOT (~/.shiv by
default; the systemd unit points it at /var/cache/edgesync) and byte-compiles it
there once, so later starts load bytecode.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ARCHES = ("x86_64", "aarch64")
PYTHONS = ("3.11", "3.12", "3.13", "3.14")
# Distributions that work without their compiled speed-ups (normalized names).
PURE_FALLBACK = {"pyyaml", "charset-normalizer", "aiohttp", "frozenlist", "multidict", "yarl",
                 "propcache"}
# Declared dependencies the agent does not import: `kubernetes` alone would add ~25 MiB
# (and, through pydantic-core, compiled code per platform). tests/packaging checks that
# no agent module imports them.
LEFT_OUT = {"kubernetes"}
# Packaging files `edge-agent install` writes, carried inside the agent package.
SHIPPED = {
    "edge-agent.service": REPO / "packaging" / "systemd" / "edge-agent.service",
    "edgesync.sysusers.conf": REPO / "packaging" / "systemd" / "edgesync.sysusers.conf",
    "agent.yaml.example": REPO / "packaging" / "agent.yaml.example",
}
EXTENSIONS = (".so", ".pyd", ".dylib")


def run(*args: str) -> None:
    print("+", " ".join(args), flush=True)
    subprocess.run(args, check=True)


def normalize(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def owners(site: Path) -> dict[str, tuple[str, str]]:
    """Installed file (relative path) -> (distribution, version), from each RECORD."""
    owned: dict[str, tuple[str, str]] = {}
    for record in site.glob("*.dist-info/RECORD"):
        meta = {k: v for k, _, v in (line.partition(": ") for line in
                                     (record.parent / "METADATA").read_text().splitlines())
                if k in ("Name", "Version")}
        with record.open(newline="") as f:
            for row in csv.reader(f):
                if row:
                    owned[row[0]] = (normalize(meta["Name"]), meta["Version"])
    return owned


def agent_requirements() -> list[str]:
    """The project's runtime requirements, without LEFT_OUT."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    keep = []
    for requirement in project["dependencies"]:
        name = requirement.split(";")[0]
        for stop in "<>=!~[ ":
            name = name.split(stop)[0]
        if normalize(name) not in LEFT_OUT:
            keep.append(requirement)
    return keep


def stage(site: Path) -> None:
    pip = (sys.executable, "-m", "pip", "install", "--quiet", "--no-compile",
           "--no-warn-script-location")
    run(*pip, "--target", str(site), *agent_requirements())
    own = site.with_name("edgesync")
    run(*pip, "--no-deps", "--target", str(own), str(REPO))
    shutil.copytree(own, site, dirs_exist_ok=True)
    for extra in ("fleet", "bin"):  # the central service is not part of the node agent
        shutil.rmtree(site / extra, ignore_errors=True)
    for cache in site.rglob("__pycache__"):
        shutil.rmtree(cache, ignore_errors=True)
    ship = site / "agent" / "_ship"
    ship.mkdir(exist_ok=True)
    for name, source in SHIPPED.items():
        shutil.copyfile(source, ship / name)


def download_twins(dist: str, version: str, into: Path, pythons: tuple[str, ...]) -> list[Path]:
    wheels = []
    for arch in ARCHES:
        for python in pythons:
            dest = into / f"{arch}-{python}"
            run(sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                "--only-binary=:all:", "--implementation", "cp", "--python-version", python,
                "--platform", f"manylinux_2_17_{arch}", "--platform", f"manylinux2014_{arch}",
                "--platform", f"manylinux_2_28_{arch}", "--dest", str(dest),
                f"{dist}=={version}")
            found = sorted(dest.glob("*.whl"))
            if not found:
                raise SystemExit(f"no {dist} {version} wheel for CPython {python} on {arch}")
            wheels.append(found[0])
    return wheels


def make_neutral(site: Path, downloads: Path, pythons: tuple[str, ...] = PYTHONS) -> None:
    owned = owners(site)
    compiled = [p for p in site.rglob("*")
                if p.is_file() and (p.name.endswith(EXTENSIONS) or ".so." in p.name)]
    needs_twins: set[tuple[str, str]] = set()
    for path in compiled:
        rel = path.relative_to(site).as_posix()
        dist, version = owned.get(rel, ("?", "?"))
        if dist in PURE_FALLBACK:
            path.unlink()
        elif dist == "?":
            raise SystemExit(f"{rel}: compiled file of unknown origin")
        else:
            needs_twins.add((dist, version))
    for dist, version in sorted(needs_twins):
        print(f"{dist} {version} has no pure-Python fallback: bundling every platform's build")
        for wheel in download_twins(dist, version, downloads, pythons):
            with zipfile.ZipFile(wheel) as zf:
                for name in zf.namelist():
                    if name.endswith(EXTENSIONS) and ".dist-info/" not in name:
                        (site / name).parent.mkdir(parents=True, exist_ok=True)
                        (site / name).write_bytes(zf.read(name))

def build(out: Path, pythons: tuple[str, ...] = PYTHONS) -> Path:
    with tempfile.TemporaryDirectory(prefix="edge-agent-zipapp-") as tmp:
        site = Path(tmp) / "site-packages"
        stage(site)
        make_neutral(site, Path(tmp) / "wheels", pythons)
        out.parent.mkdir(parents=True, exist_ok=True)
        shiv = Path(sys.executable).with_name("shiv")
        run(str(shiv) if shiv.exists() else "shiv", "--site-packages", str(site),
            "--entry-point", "agent.launcher:main", "--python", "/usr/bin/env python3",
            "--output-file", str(out), "--compressed", "--reproducible",
            # The unit runs with PYTHONDONTWRITEBYTECODE (its filesystem is read-only), so
            # without this every start would compile every module from source again.
            "--compile-pyc")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "dist" / "edge-agent.pyz")
    parser.add_argument("--pythons", default=",".join(PYTHONS),
                        help="CPython versions to carry compiled twins for; a fleet on one "
                             "known version can ship a smaller file (default: %(default)s)")
    args = parser.parse_args()
    out = build(args.out, tuple(v.strip() for v in args.pythons.split(",") if v.strip()))
    print(f"built {out} ({out.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
