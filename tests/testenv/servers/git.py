"""Git: lighttpd + git-http-backend (smart HTTP, basic auth, access log) and `git daemon`.

Bare repositories live in `.testenv/git/repos`; `fleet.git` is seeded with `overlays/`
as its root on branch `main`.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from pathlib import Path

from tests.testenv import paths
from tests.testenv.procs import ProcSpec, free_port, run
from tests.testenv.stack import Launcher, log

USER = "edgesync"
HTTP_BACKEND = "/usr/lib/git-core/git-http-backend"

# A fixed identity and date: the seeded commit has the same id for the same overlays/.
SEED_ENV = {
    "GIT_AUTHOR_NAME": "edgesync testenv",
    "GIT_AUTHOR_EMAIL": "testenv@edgesync.invalid",
    "GIT_COMMITTER_NAME": "edgesync testenv",
    "GIT_COMMITTER_EMAIL": "testenv@edgesync.invalid",
    "GIT_AUTHOR_DATE": "2024-01-01T00:00:00Z",
    "GIT_COMMITTER_DATE": "2024-01-01T00:00:00Z",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def repos_dir() -> Path:
    return paths.ROOT / "git" / "repos"


def create_bare_repo(name: str, content: Path | None = None) -> Path:
    """A bare repo under the served dir, optionally with one commit of `content` on main."""
    bare = repos_dir() / name
    if content is None:
        run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], what="git init")
    else:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp) / "work"
            shutil.copytree(content, work, ignore=shutil.ignore_patterns("__pycache__"))
            git = ["git", "-C", str(work)]
            run(["git", "init", "-q", "-b", "main", str(work)], what="git init", env=SEED_ENV)
            run([*git, "add", "-A"], what="git add", env=SEED_ENV)
            msg = f"Seed {name} from {content.name}/"
            run([*git, "commit", "-q", "--allow-empty", "-m", msg], what="git commit", env=SEED_ENV)
            run(["git", "clone", "-q", "--bare", str(work), str(bare)], what="git clone --bare")
    # Smart-HTTP pushes need this even for authenticated users.
    run(["git", "-C", str(bare), "config", "http.receivepack", "true"], what="git config")
    return bare


def _lighttpd_conf(base: Path, port: int, htpasswd: Path) -> Path:
    conf = base / "lighttpd.conf"
    conf.write_text(
        f"""\
server.modules = ("mod_alias", "mod_setenv", "mod_auth", "mod_authn_file", "mod_cgi",
                  "mod_accesslog")
server.bind = "127.0.0.1"
server.port = {port}
server.document-root = "{base / "www"}"
server.errorlog = "{paths.LOG_DIR / "lighttpd-error.log"}"
accesslog.filename = "{paths.LOG_DIR / "git-access.log"}"
server.max-request-size = 1048576
alias.url = ("/git/" => "{HTTP_BACKEND}/")
$HTTP["url"] =~ "^/git/" {{
  cgi.assign = ("" => "")
  setenv.set-environment = ("GIT_PROJECT_ROOT" => "{repos_dir()}",
                            "GIT_HTTP_EXPORT_ALL" => "",
                            "GIT_CONFIG_NOSYSTEM" => "1")
  auth.backend = "htpasswd"
  auth.backend.htpasswd.userfile = "{htpasswd}"
  auth.require = ("" => ("method" => "basic", "realm" => "edgesync git",
                         "require" => "valid-user"))
}}
"""
    )
    return conf


def start(launcher: Launcher) -> None:
    base = paths.ROOT / "git"
    shutil.rmtree(base, ignore_errors=True)
    (base / "www").mkdir(parents=True)
    repos_dir().mkdir(parents=True)
    paths.LOG_DIR.mkdir(parents=True, exist_ok=True)
    create_bare_repo("fleet.git", paths.REPO / "overlays")

    password = secrets.token_hex(12)
    htpasswd = base / "htpasswd"
    run(["htpasswd", "-cbB", str(htpasswd), USER, password], what="htpasswd")

    http_port, daemon_port = free_port(), free_port()
    conf = _lighttpd_conf(base, http_port, htpasswd)
    launcher.launch(
        ProcSpec("lighttpd", ["lighttpd", "-D", "-f", str(conf)], log("lighttpd")),
        {"http": f"http://127.0.0.1:{http_port}/git/fleet.git/info/refs", "status": [401]},
        20,
    )
    daemon_argv = [
        "git", "daemon", "--reuseaddr", "--export-all", "--listen=127.0.0.1",
        f"--port={daemon_port}", f"--base-path={repos_dir()}", str(repos_dir()),
    ]  # fmt: skip
    daemon = ProcSpec("git-daemon", daemon_argv, log("git-daemon"))
    launcher.launch(daemon, {"tcp": daemon_port}, 20)

    public_http, public_daemon = free_port(), free_port()
    launcher.forwarder("git-proxy", [(public_http, http_port), (public_daemon, daemon_port)])
    launcher.component.values.update(
        git_url=f"http://127.0.0.1:{public_http}/git",
        git_user=USER,
        git_password=password,
        git_daemon_url=f"git://127.0.0.1:{public_daemon}",
        git_repos=str(repos_dir()),
    )
