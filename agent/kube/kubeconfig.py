"""Where the apiserver is and how to authenticate: a kubeconfig file or in-cluster config.

Parsed by hand (client certs, bearer tokens, token files, CA) because the
`kubernetes` package costs tens of MiB and most of a second to import.
"""

from __future__ import annotations

import base64
import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.errors import KubeError

IN_CLUSTER_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


@dataclass(frozen=True)
class Connection:
    server: str
    ssl_context: ssl.SSLContext | bool
    token: str | None = None
    username: str | None = None
    password: str | None = None


def load_connection(kubeconfig: str | None, context: str | None = None) -> Connection:
    if kubeconfig is None:
        return _in_cluster()
    return _from_file(Path(kubeconfig), context)


def _in_cluster() -> Connection:
    host = os.environ.get("KUBERNETES_SERVICE_HOST")
    port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    if not host:
        raise KubeError("kube.kubeconfig is not set and this is not a pod "
                        "(KUBERNETES_SERVICE_HOST is unset)", where="kube.kubeconfig")
    try:
        token = (IN_CLUSTER_DIR / "token").read_text().strip()
    except OSError as exc:
        raise KubeError(f"cannot read the service account token: {exc.strerror}",
                        where=str(IN_CLUSTER_DIR / "token")) from exc
    ctx = ssl.create_default_context(cafile=str(IN_CLUSTER_DIR / "ca.crt"))
    if ":" in host:
        host = f"[{host}]"
    return Connection(server=f"https://{host}:{port}", ssl_context=ctx, token=token)


def _pick(items: Any, name: str, what: str, where: str) -> dict[str, Any]:
    for item in items or ():
        if isinstance(item, dict) and item.get("name") == name:
            body = item.get(what)
            if isinstance(body, dict):
                return body
    raise KubeError(f"{what} {name!r} is not defined", where=where)


def _from_file(path: Path, context: str | None) -> Connection:
    import yaml

    where = str(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise KubeError(f"cannot read kubeconfig: {exc.strerror}", where=where) from exc
    except yaml.YAMLError as exc:
        raise KubeError(f"kubeconfig is not valid YAML: {exc}", where=where) from exc
    if not isinstance(doc, dict):
        raise KubeError("kubeconfig must be a mapping", where=where)
    ctx_name = context or doc.get("current-context")
    if not ctx_name:
        raise KubeError("kubeconfig has no current-context and kube.context is unset",
                        where=where)
    ctx = _pick(doc.get("contexts"), ctx_name, "context", where)
    cluster = _pick(doc.get("clusters"), str(ctx.get("cluster")), "cluster", where)
    user = _pick(doc.get("users"), str(ctx.get("user")), "user", where) if ctx.get("user") else {}
    for plugin in ("exec", "auth-provider"):
        if user.get(plugin):
            raise KubeError(f"user {ctx.get('user')!r} authenticates with an {plugin} plugin, "
                            "which the agent does not run; give it a token, tokenFile or "
                            "client certificate", where=where)
    server = str(cluster.get("server") or "")
    if not server:
        raise KubeError(f"cluster {ctx.get('cluster')!r} has no server", where=where)
    base = path.parent
    ssl_ctx: ssl.SSLContext | bool = True
    if server.startswith("https"):
        ssl_ctx = _ssl_context(cluster, user, base, where)
    token = user.get("token")
    if not token and user.get("tokenFile"):
        try:
            token = (base / str(user["tokenFile"])).read_text().strip()
        except OSError as exc:
            raise KubeError(f"cannot read tokenFile: {exc.strerror}", where=where) from exc
    return Connection(server=server.rstrip("/"), ssl_context=ssl_ctx,
                      token=str(token) if token else None,
                      username=user.get("username"), password=user.get("password"))


def _material(section: dict[str, Any], key: str, base: Path, where: str) -> bytes | None:
    data = section.get(f"{key}-data")
    if data:
        return base64.b64decode(str(data))
    file = section.get(key)
    if file:
        try:
            return (base / str(file)).read_bytes()
        except OSError as exc:
            raise KubeError(f"cannot read {key} {file}: {exc.strerror}", where=where) from exc
    return None


def _ssl_context(cluster: dict[str, Any], user: dict[str, Any], base: Path,
                 where: str) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    if cluster.get("insecure-skip-tls-verify"):
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    ca = _material(cluster, "certificate-authority", base, where)
    if ca:
        ctx.load_verify_locations(cadata=ca.decode())
    cert = _material(user, "client-certificate", base, where)
    key = _material(user, "client-key", base, where)
    if cert and key:
        # ssl only loads a key pair from files: write them to a private folder for a moment.
        with tempfile.TemporaryDirectory(prefix="edgesync-tls-") as tmp:
            cert_file, key_file = Path(tmp) / "c.pem", Path(tmp) / "k.pem"
            cert_file.write_bytes(cert)
            key_file.touch(mode=0o600)
            key_file.write_bytes(key)
            try:
                ctx.load_cert_chain(str(cert_file), str(key_file))
            except ssl.SSLError as exc:
                raise KubeError(f"client certificate/key do not load: {exc}", where=where) from exc
    return ctx
