"""Registry: Debian's docker-registry (CNCF distribution) with htpasswd auth, seeded with
the multi-arch busybox images (see images.py)."""

from __future__ import annotations

import json
import secrets
import shutil

from tests.testenv import images, install, paths
from tests.testenv.procs import ProcSpec, TestenvError, free_port, run
from tests.testenv.stack import Launcher, log

USER = "edgesync"


def start(launcher: Launcher) -> None:
    base = paths.ROOT / "registry"
    shutil.rmtree(base, ignore_errors=True)
    (base / "data").mkdir(parents=True)
    debs = {arch: install.busybox_deb(arch) for arch in install.BUSYBOX_ARCHES}
    missing = [arch for arch, deb in debs.items() if deb is None]
    if missing:
        raise TestenvError(f"busybox-static .deb for {missing} not cached: run `make testenv-deps`")

    password = secrets.token_hex(12)
    htpasswd = base / "htpasswd"
    run(["htpasswd", "-cbB", str(htpasswd), USER, password], what="htpasswd")
    port = free_port()
    config = base / "config.yml"
    config.write_text(
        json.dumps(  # YAML is a superset of JSON
            {
                "version": 0.1,
                "log": {"level": "info", "formatter": "text", "accesslog": {"disabled": False}},
                "storage": {
                    "filesystem": {"rootdirectory": str(base / "data")},
                    "delete": {"enabled": True},
                    "maintenance": {"uploadpurging": {"enabled": False}},
                },
                "http": {"addr": f"127.0.0.1:{port}", "secret": secrets.token_hex(16)},
                "auth": {"htpasswd": {"realm": "edgesync-registry", "path": str(htpasswd)}},
            },
            indent=2,
        )
    )
    launcher.launch(
        ProcSpec("registry", ["docker-registry", "serve", str(config)], log("registry")),
        {"http": f"http://127.0.0.1:{port}/v2/", "status": [401]},
        20,
    )
    public = free_port()
    launcher.forwarder("registry-proxy", [(public, port)])
    seeded = images.seed_busybox(
        f"127.0.0.1:{port}", USER, password, {a: d for a, d in debs.items() if d is not None}
    )
    launcher.component.values.update(
        registry=f"127.0.0.1:{public}",
        registry_user=USER,
        registry_password=password,
        registry_images=json.dumps(seeded),
    )
