"""The environment every git process of the source stage runs with.

Credentials reach git only through its environment (`GIT_CONFIG_COUNT/KEY/VALUE`
config entries and `GIT_SSH_COMMAND`), never through argv, the on-disk clone
config or a URL, so `ps`, `/proc/*/cmdline`, `.git/config` and our logs never
show them. HTTP credentials go out preemptively as an `Authorization` header,
scoped to the source URL, which also saves the 401 round trip of a challenge.
"""

from __future__ import annotations

import base64
import re
import shlex
from pathlib import Path

from agent.config import AuthConfig, SourceConfig
from agent.errors import SourceError

_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s]*@", re.IGNORECASE)


def redact(text: str) -> str:
    """`https://user:pass@host/x` -> `https://***@host/x`, for any URL inside `text`."""
    return _USERINFO.sub(r"\g<scheme>***@", text)


def _read_secret(path: str, key: str) -> str:
    try:
        value = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SourceError(f"cannot read {key}: {exc.strerror}", where=path) from exc
    if not value:
        raise SourceError(f"{key} is empty", where=path)
    return value


def is_http(url: str) -> bool:
    return url.startswith(("http://", "https://"))


def is_ssh(url: str) -> bool:
    return url.startswith("ssh://") or (
        "://" not in url and re.match(r"^[\w.-]+@[\w.-]+:", url) is not None)


def auth_header(auth: AuthConfig) -> str | None:
    """The `Authorization` header value for HTTP sources, or None when no credentials."""
    if auth.token_file:
        token = _read_secret(auth.token_file, "source.auth.token_file")
        if auth.username:
            # Forges (GitHub, GitLab, Gitea) take a token as the password of basic auth.
            raw = f"{auth.username}:{token}".encode()
            return "Basic " + base64.b64encode(raw).decode()
        return f"Bearer {token}"
    if auth.password_file:
        if not auth.username:
            raise SourceError("source.auth.password_file needs source.auth.username")
        password = _read_secret(auth.password_file, "source.auth.password_file")
        raw = f"{auth.username}:{password}".encode()
        return "Basic " + base64.b64encode(raw).decode()
    return None


def ssh_command(auth: AuthConfig) -> str:
    """`GIT_SSH_COMMAND` pinning the key and the known hosts; never prompts."""
    args = ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=20"]
    if auth.ssh_key_file:
        if not Path(auth.ssh_key_file).is_file():
            raise SourceError("ssh key file not found", where=auth.ssh_key_file)
        args += ["-i", auth.ssh_key_file, "-o", "IdentitiesOnly=yes"]
    if auth.known_hosts_file:
        if not Path(auth.known_hosts_file).is_file():
            raise SourceError("known_hosts file not found", where=auth.known_hosts_file)
        args += ["-o", f"UserKnownHostsFile={auth.known_hosts_file}",
                 "-o", "GlobalKnownHostsFile=/dev/null"]
    args += ["-o", "StrictHostKeyChecking=yes"]
    return shlex.join(args)


def git_env(source: SourceConfig, *, extra_config: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for git talking to `source.url` (credentials included, as config entries)."""
    url = source.url or ""
    config: dict[str, str] = {
        # Never ask a human, never hand secrets to a credential helper to store.
        "credential.helper": "",
        "core.askPass": "",
        # A stalled transfer must fail, not hang the daemon forever.
        "http.lowSpeedLimit": "1000",
        "http.lowSpeedTime": "30",
        "gc.auto": "0",
        # Keep every fetch as the pack it arrived as: its size is the bytes fetched.
        "fetch.unpackLimit": "1",
        "transfer.unpackLimit": "1",
        "maintenance.auto": "false",
        "advice.detachedHead": "false",
    }
    env = {
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ASKPASS": "/bin/false",
        "SSH_ASKPASS": "/bin/false",
        "GIT_OPTIONAL_LOCKS": "0",
        "LC_ALL": "C",
    }
    if is_http(url):
        header = auth_header(source.auth)
        if header:
            config[f"http.{url}.extraHeader"] = f"Authorization: {header}"
    elif is_ssh(url):
        env["GIT_SSH_COMMAND"] = ssh_command(source.auth)
    config.update(extra_config or {})
    env["GIT_CONFIG_COUNT"] = str(len(config))
    for i, (key, value) in enumerate(config.items()):
        env[f"GIT_CONFIG_KEY_{i}"] = key
        env[f"GIT_CONFIG_VALUE_{i}"] = value
    return env
