"""PostgreSQL: a throwaway cluster of Debian's PostgreSQL, run as the `postgres` user.

The `edgesync` role owns database `edgesync` and may create more (tests that want a
database of their own). Durability is off: it is faster and the data is thrown away.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from tests.testenv import paths
from tests.testenv.procs import ProcSpec, TestenvError, free_port, run
from tests.testenv.stack import Launcher, log

USER = "edgesync"
DATABASE = "edgesync"
OS_USER = "postgres"


def pg_bindir() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: p.parent)
    if not found:
        raise TestenvError("PostgreSQL server not installed (Debian `postgresql`)")
    return found[-1].parent


def _owned_by_postgres(path: Path) -> Path:
    account = pwd.getpwnam(OS_USER)
    os.chown(path, account.pw_uid, account.pw_gid)
    return path


def _base_dir() -> Path:
    """`.testenv/pg` if the postgres user can reach it, else a private dir under /tmp."""
    base = paths.ROOT / "pg"
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    _owned_by_postgres(base)
    reachable = subprocess.run(["test", "-w", str(base)], user=OS_USER, check=False)
    if reachable.returncode == 0:
        return base
    return _owned_by_postgres(Path(tempfile.mkdtemp(prefix="edgesync-pg-")))


def start(launcher: Launcher) -> None:
    bindir = pg_bindir()
    base = _base_dir()
    data, sockets = base / "data", base / "sock"
    sockets.mkdir()
    _owned_by_postgres(sockets)
    password = secrets.token_hex(12)
    run(
        [
            str(bindir / "initdb"), "-D", str(data), "-U", OS_USER, "-E", "UTF8",
            "--locale=C.UTF-8", "--auth-local=trust", "--auth-host=scram-sha-256",
            "--no-sync",
        ],
        what="initdb",
        user=OS_USER,
    )  # fmt: skip
    port = free_port()
    argv = [
        str(bindir / "postgres"), "-D", str(data), "-c", "listen_addresses=127.0.0.1",
        "-c", f"port={port}", "-c", f"unix_socket_directories={sockets}",
        "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
        "-c", "max_connections=200",
    ]  # fmt: skip
    spec = ProcSpec("postgres", argv, log("postgres"), user=OS_USER, stop_signal=signal.SIGINT)
    ready = [str(bindir / "pg_isready"), "-q", "-h", str(sockets), "-p", str(port)]
    launcher.launch(spec, {"cmd": ready}, 30)
    sql = (
        f"CREATE ROLE {USER} LOGIN CREATEDB PASSWORD '{password}';"
        f"CREATE DATABASE {DATABASE} OWNER {USER};"
    )
    psql = [str(bindir / "psql"), "-q", "-h", str(sockets), "-p", str(port), "-U", OS_USER]
    for statement in sql.split(";")[:-1]:
        run([*psql, "-d", "postgres", "-c", statement], what="psql", user=OS_USER)
    public = free_port()
    launcher.forwarder("postgres-proxy", [(public, port)])
    launcher.component.values.update(
        pg_dsn=f"postgresql://{USER}:{password}@127.0.0.1:{public}/{DATABASE}",
        pg_admin_socket=str(sockets),
    )
