"""The single-file build and the Debian package, built for real (needs PyPI for the wheels).

Built once per session into a temp dir with the same scripts `make dist` runs.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from collections import defaultdict
from pathlib import Path

import pytest

from tests.packaging.conftest import REPO, require_tool

pytestmark = pytest.mark.slow

ARCHES = {"x86_64", "aarch64"}
# `_pydantic_core.cpython-312-aarch64-linux-gnu.so` -> module path, CPython tag, arch
EXTENSION = re.compile(r"^(?P<module>.+?)\.cpython-(?P<py>\d+)-(?P<arch>[a-z0-9_]+)-linux-gnu\.so$")
SYSTEM_PYTHON = "/usr/bin/python3"


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, str(REPO / "packaging" / "build_zipapp.py"), "--out",
                    str(out / "edge-agent.pyz")], check=True, timeout=900)
    require_tool("dpkg-deb", "dpkg")
    subprocess.run([sys.executable, str(REPO / "packaging" / "build_deb.py"), "--pyz",
                    str(out / "edge-agent.pyz"), "--out", str(out)], check=True, timeout=300)
    return out


def clean_env(home: Path) -> dict[str, str]:
    home.mkdir(exist_ok=True)
    return {"HOME": str(home), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}


def test_zipapp_has_no_compiled_module_without_its_other_architecture(dist: Path) -> None:
    with zipfile.ZipFile(dist / "edge-agent.pyz") as zf:
        names = zf.namelist()
    builds: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for name in names:
        base = name.rsplit("/", 1)[-1]
        if not (base.endswith(".so") or ".so." in base or base.endswith(".pyd")):
            continue
        match = EXTENSION.match(name)
        assert match, f"{name}: compiled file not tagged with a CPython ABI and architecture"
        builds[match["module"]][match["py"]].add(match["arch"])
    for module, per_python in builds.items():
        for python, arches in per_python.items():
            assert arches == ARCHES, f"{module} for cp{python} only has {sorted(arches)}"
        assert {"311", "312", "313"} <= set(per_python), f"{module}: {sorted(per_python)}"
    assert "site-packages/agent/cli.py" in names
    assert not any(n.startswith("site-packages/fleet/") for n in names)
    assert not any(n.startswith("site-packages/kubernetes/") for n in names)
    for shipped in ("edge-agent.service", "agent.yaml.example", "edgesync.sysusers.conf"):
        assert f"site-packages/agent/_ship/{shipped}" in names


def test_zipapp_runs_with_a_clean_system_interpreter(dist: Path, tmp_path: Path) -> None:
    # As under the systemd unit: Python itself writes no bytecode.
    env = {**clean_env(tmp_path / "home"), "PYTHONDONTWRITEBYTECODE": "1"}
    run = subprocess.run([SYSTEM_PYTHON, "-I", str(dist / "edge-agent.pyz"), "--help"],
                         env=env, capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stderr
    assert "GitOps sync agent for edge fleets" in run.stdout
    assert "validate" in run.stdout and "install" in run.stdout
    # Unpacked once and byte-compiled then, modules `--help` never imported included, so
    # later starts load bytecode instead of compiling every module again.
    unpacked = list((tmp_path / "home" / ".shiv").glob("*/site-packages"))
    assert len(unpacked) == 1
    for module in ("agent/images/_transport", "agent/cycle", "httpx/_client"):
        folder, name = module.rsplit("/", 1)
        assert list((unpacked[0] / folder / "__pycache__").glob(f"{name}.cpython-*.pyc")), module


def test_zipapp_libraries_import_from_their_pure_fallbacks(dist: Path, tmp_path: Path) -> None:
    code = ("import yaml, httpx, git, tenacity, croniter, prometheus_client, pydantic_core; "
            "import agent.cli, agent.policy, agent.config; "
            "print('libyaml', yaml.__with_libyaml__)")
    env = {**clean_env(tmp_path / "home"), "SHIV_INTERPRETER": "1"}
    run = subprocess.run([SYSTEM_PYTHON, "-I", str(dist / "edge-agent.pyz"), "-c", code],
                         env=env, capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stderr
    assert "libyaml False" in run.stdout


def test_no_agent_module_imports_a_dependency_left_out_of_the_zipapp() -> None:
    sys.path.insert(0, str(REPO / "packaging"))
    try:
        from build_zipapp import LEFT_OUT
    finally:
        sys.path.remove(str(REPO / "packaging"))
    pattern = re.compile(r"^\s*(?:import|from)\s+(" + "|".join(LEFT_OUT) + r")\b", re.MULTILINE)
    offenders = [str(p.relative_to(REPO)) for p in (REPO / "agent").rglob("*.py")
                 if pattern.search(p.read_text())]
    assert offenders == []


def test_deb_installs_into_a_scratch_root_and_runs(dist: Path, tmp_path: Path) -> None:
    dpkg = require_tool("dpkg", "dpkg")
    (deb,) = dist.glob("edgesync-agent_*_all.deb")
    info = subprocess.run(["dpkg-deb", "--field", str(deb), "Architecture", "Depends"],
                          capture_output=True, text=True, check=True).stdout
    assert "Architecture: all" in info and "python3 (>= 3.11)" in info
    root = tmp_path / "root"
    admin = root / "var/lib/dpkg"
    for sub in ("info", "updates", "triggers"):
        (admin / sub).mkdir(parents=True)
    (admin / "status").touch()
    (admin / "available").touch()
    # chrootless: the scratch root has no shell; the scripts act on $DPKG_ROOT instead.
    # --force-depends: python3 is the host's, not a package of the scratch root.
    run = subprocess.run([dpkg, f"--root={root}", "--force-not-root", "--force-script-chrootless",
                          "--force-depends", "--log=/dev/null", "--install", str(deb)],
                         capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    assert (root / "lib/systemd/system/edge-agent.service").is_file()
    assert (root / "etc/edgesync/agent.yaml.example").is_file()
    exe = root / "usr/bin/edge-agent"
    assert os.access(exe, os.X_OK)
    assert re.search(r"^edgesync:x:\d+:", (root / "etc/passwd").read_text(), re.MULTILINE)
    status = subprocess.run([dpkg, f"--root={root}", "--status", "edgesync-agent"],
                            capture_output=True, text=True, check=True).stdout
    assert "Status: install ok installed" in status
    run = subprocess.run([str(exe), "--help"], env=clean_env(tmp_path / "home"),
                         capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stderr
    assert "Usage: edge-agent" in run.stdout


def test_zipapp_installs_itself_as_the_service(dist: Path, tmp_path: Path) -> None:
    pyz = dist / "edge-agent.pyz"
    root = tmp_path / "root"
    run = subprocess.run([str(pyz), "install", "--root", str(root)],
                         env=clean_env(tmp_path / "home"), capture_output=True, text=True,
                         timeout=300, check=False)
    assert run.returncode == 0, run.stderr
    unit = (root / "etc/systemd/system/edge-agent.service").read_text()
    assert f"ExecStart={pyz.resolve()} run --config /etc/edgesync/agent.yaml" in unit
    # The files come from inside the archive, identical to the ones in packaging/.
    assert (root / "etc/edgesync/agent.yaml").read_text() == (
        REPO / "packaging" / "agent.yaml.example").read_text()
    assert (root / "etc/sysusers.d/edgesync.conf").read_text() == (
        REPO / "packaging" / "systemd" / "edgesync.sysusers.conf").read_text()
