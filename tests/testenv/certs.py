"""Cluster credentials made with the openssl CLI: a CA, the apiserver's serving cert,
an admin client cert and the service-account signing key. EC P-256: quick to generate."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path

from tests.testenv.procs import run

EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
SERVING_NAMES = (
    "IP:127.0.0.1",
    "IP:10.0.0.1",  # the `kubernetes` Service's cluster IP
    "DNS:localhost",
    "DNS:kubernetes",
    "DNS:kubernetes.default",
    "DNS:kubernetes.default.svc",
    "DNS:kubernetes.default.svc.cluster.local",
)


@dataclass(frozen=True)
class ClusterCerts:
    ca: Path
    ca_key: Path
    serving: Path
    serving_key: Path
    admin: Path
    admin_key: Path
    sa_key: Path
    sa_pub: Path


def _leaf(dir_: Path, name: str, subject: str, ca: tuple[Path, Path], ext: str) -> None:
    ca_cert, ca_key = ca
    key, csr, crt = (dir_ / f"{name}.{s}" for s in ("key", "csr", "crt"))
    run(["openssl", "req", *EC, "-keyout", str(key), "-subj", subject, "-out", str(csr)],
        what=f"openssl req ({name})")  # fmt: skip
    extfile = dir_ / f"{name}.ext"
    extfile.write_text(ext)
    run(
        [
            "openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca_cert), "-CAkey", str(ca_key),
            "-CAcreateserial", "-days", "3650", "-out", str(crt), "-extfile", str(extfile),
        ],
        what=f"openssl x509 ({name})",
    )  # fmt: skip


def generate(dir_: Path) -> ClusterCerts:
    dir_.mkdir(parents=True, exist_ok=True)
    ca, ca_key = dir_ / "ca.crt", dir_ / "ca.key"
    run(
        ["openssl", "req", "-x509", *EC, "-keyout", str(ca_key), "-out", str(ca),
         "-days", "3650", "-subj", "/CN=edgesync-testenv-ca"],
        what="openssl req (CA)",
    )  # fmt: skip
    usage = "keyUsage=critical,digitalSignature,keyEncipherment\n"
    names = ",".join(SERVING_NAMES)
    serving_ext = f"{usage}extendedKeyUsage=serverAuth\nsubjectAltName={names}\n"
    _leaf(dir_, "apiserver", "/CN=kube-apiserver", (ca, ca_key), serving_ext)
    # system:masters: full rights for the admin, the controllers, the scheduler and kwok.
    client_ext = f"{usage}extendedKeyUsage=clientAuth\n"
    _leaf(dir_, "admin", "/O=system:masters/CN=edgesync-admin", (ca, ca_key), client_ext)
    sa_key, sa_pub = dir_ / "sa.key", dir_ / "sa.pub"
    run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(sa_key)],
        what="openssl ecparam")  # fmt: skip
    run(["openssl", "ec", "-in", str(sa_key), "-pubout", "-out", str(sa_pub)], what="openssl ec")
    return ClusterCerts(
        ca, ca_key, dir_ / "apiserver.crt", dir_ / "apiserver.key",
        dir_ / "admin.crt", dir_ / "admin.key", sa_key, sa_pub,
    )  # fmt: skip


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def kubeconfig(certs: ClusterCerts, server: str) -> str:
    """An admin kubeconfig with the credentials embedded (JSON is valid YAML)."""
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "edgesync-testenv",
                    "cluster": {"server": server, "certificate-authority-data": _b64(certs.ca)},
                }
            ],
            "users": [
                {
                    "name": "admin",
                    "user": {
                        "client-certificate-data": _b64(certs.admin),
                        "client-key-data": _b64(certs.admin_key),
                    },
                }
            ],
            "contexts": [
                {
                    "name": "edgesync-testenv",
                    "context": {"cluster": "edgesync-testenv", "user": "admin"},
                }
            ],
            "current-context": "edgesync-testenv",
        },
        indent=2,
    )
