"""The Git source over SSH: a private key and a pinned known_hosts, against a real sshd.

The test starts its own OpenSSH server on 127.0.0.1 (the shared environment has
no SSH Git server); it serves the repo by path, as a plain Git-over-SSH host does.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agent.config import AgentConfig
from agent.errors import SourceError
from agent.source import git as gitsource
from tests.source.fleetrepo import FleetRepo

pytestmark = pytest.mark.git

MakeCfg = Callable[..., AgentConfig]
SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


def keypair(path: Path) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[dict[str, object]]:
    if not Path(SSHD).exists():
        pytest.fail("OpenSSH server (sshd) is not installed")
    base = tmp_path / "sshd"
    base.mkdir()
    host = keypair(base / "host_ed25519")
    client = keypair(base / "client_ed25519")
    (base / "authorized_keys").write_text(Path(f"{client}.pub").read_text())
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = base / "sshd_config"
    config.write_text(f"""\
Port {port}
ListenAddress 127.0.0.1
HostKey {host}
AuthorizedKeysFile {base}/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
PidFile {base}/sshd.pid
""")
    Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege separation directory
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)],
                            stderr=open(base / "sshd.log", "w"))  # noqa: SIM115
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail(f"sshd did not start: {(base / 'sshd.log').read_text()}")
            time.sleep(0.1)
    known = base / "known_hosts"
    known.write_text(f"[127.0.0.1]:{port} {Path(f'{host}.pub').read_text()}")
    other = keypair(base / "impostor_ed25519")
    wrong_known = base / "known_hosts.wrong"
    wrong_known.write_text(f"[127.0.0.1]:{port} {Path(f'{other}.pub').read_text()}")
    try:
        yield {"port": port, "key": str(client), "known": str(known),
               "wrong_known": str(wrong_known), "user": os.environ.get("USER") or "root"}
    finally:
        proc.terminate()
        proc.wait(10)


def test_ssh_with_pinned_host_key(fleet: FleetRepo, make_cfg: MakeCfg,
                                  sshd: dict[str, object]) -> None:
    url = f"ssh://root@127.0.0.1:{sshd['port']}{fleet.bare}"
    cfg = make_cfg(url, auth={"ssh_key_file": sshd["key"], "known_hosts_file": sshd["known"]})
    rev = gitsource.resolve(cfg)
    assert rev.id == fleet.head()
    assert Path(rev.path, "cloud/kustomization.yaml").is_file()
    assert not gitsource.poll(cfg).changed


def test_ssh_refuses_an_unknown_host_key(fleet: FleetRepo, make_cfg: MakeCfg,
                                         sshd: dict[str, object]) -> None:
    url = f"ssh://root@127.0.0.1:{sshd['port']}{fleet.bare}"
    cfg = make_cfg(url, auth={"ssh_key_file": sshd["key"],
                              "known_hosts_file": sshd["wrong_known"]})
    with pytest.raises(SourceError, match="Host key verification failed"):
        gitsource.resolve(cfg)
    assert gitsource.current(cfg) is None


def test_server_refusing_lazy_blob_fetches_gets_whole_trees(fleet: FleetRepo, make_cfg: MakeCfg,
                                                            sshd: dict[str, object]) -> None:
    # sshd without `AcceptEnv GIT_PROTOCOL` speaks protocol v0, which refuses on-demand
    # blob fetches unless the repo allows any object: the source falls back and remembers.
    url = f"ssh://root@127.0.0.1:{sshd['port']}{fleet.bare}"
    cfg = make_cfg(url, auth={"ssh_key_file": sshd["key"], "known_hosts_file": sshd["known"]})
    gitsource.resolve(cfg)
    assert (Path(cfg.state_dir) / "git.full-fetch").read_text() == url
    fleet.write("cloud/files/app.conf", "after fallback\n")
    fleet.commit("next")
    fleet.push()
    rev = gitsource.resolve(cfg)
    assert Path(rev.path, "cloud/files/app.conf").read_text() == "after fallback\n"
    assert not Path(rev.path, "vehicle").exists()  # still only the tier's paths on disk
