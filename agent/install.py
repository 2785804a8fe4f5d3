"""`edge-agent install`: put the systemd unit, a config template and the directories in place.

Installing never starts anything unless asked (`now=True`): an operator reviews the
config first, then runs the printed commands. An existing `agent.yaml` is never
overwritten. The config is world-readable on purpose (the service user must read it
and it holds no secrets: credentials live in the `*_file` paths it names).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from agent.errors import EdgesyncError

UNIT_NAME = "edge-agent.service"
TEMPLATE_NAME = "agent.yaml.example"
SYSUSERS_NAME = "edgesync.sysusers.conf"
SHIPPED_BINARY = "/usr/bin/edge-agent"
# Where the zipapp and the .deb carry the packaging files (see packaging/build_zipapp.py).
SHIP_DIR = "_ship"
# In a source checkout they live in packaging/, beside the agent package.
_SOURCE_PATHS = {UNIT_NAME: ("systemd", UNIT_NAME), TEMPLATE_NAME: (TEMPLATE_NAME,),
                 SYSUSERS_NAME: ("systemd", SYSUSERS_NAME)}

UNIT_DIR = "etc/systemd/system"
SYSUSERS_FILE = "etc/sysusers.d/edgesync.conf"
CONFIG_DIR = "etc/edgesync"
STATE_DIR = "var/lib/edgesync"


class InstallError(EdgesyncError):
    """The agent could not be installed."""


Runner = Callable[[Sequence[str]], int]


@dataclass(frozen=True)
class InstallResult:
    root: Path
    unit: Path
    config: Path
    written: tuple[Path, ...]
    kept: tuple[Path, ...]
    commands: tuple[str, ...]
    started: bool


def packaged_file(name: str) -> str:
    """The text of a packaging file, from the installed package or the source checkout."""
    shipped = resources.files("agent").joinpath(SHIP_DIR, name)
    if shipped.is_file():
        return shipped.read_text(encoding="utf-8")
    source = Path(__file__).resolve().parents[1] / "packaging" / Path(*_SOURCE_PATHS[name])
    if source.is_file():
        return source.read_text(encoding="utf-8")
    raise InstallError(f"{name} is not shipped with this installation",
                       where=str(source), action="install from the .deb or the zipapp")


def running_binary() -> str:
    """The command that should run as the service: this very `edge-agent`."""
    argv0 = Path(sys.argv[0])
    if argv0.suffix == ".pyz" and argv0.is_file():
        pyz = argv0.resolve()
        # A zipapp copied without its exec bit still runs through the interpreter.
        return str(pyz) if os.access(pyz, os.X_OK) else f"{sys.executable} {pyz}"
    found = shutil.which("edge-agent")
    return str(Path(found).resolve()) if found else SHIPPED_BINARY


def unit_text(binary: str) -> str:
    text = packaged_file(UNIT_NAME)
    if binary != SHIPPED_BINARY:
        text = text.replace(f"ExecStart={SHIPPED_BINARY} ", f"ExecStart={binary} ")
    return text


def _write(path: Path, text: str, mode: int) -> bool:
    """Write atomically; False when the file already holds exactly this text."""
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.chmod(mode)
    os.replace(tmp, path)
    return True


def _run(args: Sequence[str]) -> int:
    return subprocess.run(list(args), check=False).returncode


def install(root: str | os.PathLike[str] = "/", *, now: bool = False,
            binary: str | None = None, runner: Runner = _run) -> InstallResult:
    """Install under `root` (a scratch root for images and tests, `/` on a node)."""
    base = Path(root)
    if now and base.resolve() != Path("/"):
        raise InstallError("--now starts the service on this machine; it cannot be combined "
                           f"with --root {base}", where=str(base))
    exe = binary or running_binary()
    if not Path(exe.split(" ", 1)[0]).is_absolute():
        raise InstallError(f"ExecStart needs an absolute path, got {exe!r}", where="--binary")
    unit_dir, config_dir, state_dir = base / UNIT_DIR, base / CONFIG_DIR, base / STATE_DIR
    try:
        unit_dir.mkdir(parents=True, exist_ok=True)
        config_dir.mkdir(parents=True, exist_ok=True)
        config_dir.chmod(0o755)
        state_dir.mkdir(parents=True, exist_ok=True)
        state_dir.chmod(0o700)
        written: list[Path] = []
        kept: list[Path] = []
        sysusers = base / SYSUSERS_FILE
        sysusers.parent.mkdir(parents=True, exist_ok=True)
        if _write(sysusers, packaged_file(SYSUSERS_NAME), 0o644):
            written.append(sysusers)
        unit = unit_dir / UNIT_NAME
        if _write(unit, unit_text(exe), 0o644):
            written.append(unit)
        template = packaged_file(TEMPLATE_NAME)
        example = config_dir / TEMPLATE_NAME
        if _write(example, template, 0o644):
            written.append(example)
        config = config_dir / "agent.yaml"
        if config.exists():
            kept.append(config)
        else:
            _write(config, template, 0o644)
            written.append(config)
    except OSError as exc:
        raise InstallError(f"cannot write: {exc.strerror}", where=exc.filename or str(base),
                           action="nothing was started") from exc
    commands = (
        f"$EDITOR {Path('/') / CONFIG_DIR / 'agent.yaml'}",
        "systemd-sysusers edgesync.conf",
        "systemctl daemon-reload",
        f"systemctl enable --now {UNIT_NAME}",
        f"journalctl -u {UNIT_NAME} -f",
    )
    started = False
    if now:
        steps = (["systemd-sysusers", "edgesync.conf"], ["systemctl", "daemon-reload"],
                 ["systemctl", "enable", "--now", UNIT_NAME])
        for args in steps:
            code = runner(args)
            if code != 0:
                raise InstallError(f"`{' '.join(args)}` exited with status {code}",
                                   action="the files are installed; the service is not running")
        started = True
    return InstallResult(root=base, unit=unit, config=config, written=tuple(written),
                         kept=tuple(kept), commands=commands, started=started)

