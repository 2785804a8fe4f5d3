"""Registry credentials: the agent config, or Docker's `config.json` as the Docker CLI reads it.

Lookup order for a registry host, as `docker pull` does it:
`credHelpers[host]`, else `credsStore`, else `auths` (matching keys written
as `host`, `https://host` or `https://host/v1/`; Docker Hub is stored under
`https://index.docker.io/v1/`). Helpers are run as `docker-credential-<name>
get` with the server URL on stdin.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from agent.errors import ConfigError
from agent.images._errors import RegistryError
from agent.images._reference import DEFAULT_DOMAIN

DOCKER_HUB_AUTH_KEY = "https://index.docker.io/v1/"
_HELPER_TIMEOUT = 10.0


@dataclass(frozen=True)
class Credential:
    username: str
    password: str = field(repr=False)
    # An OAuth2 refresh token (`identitytoken`) replaces the password for token realms.
    identity_token: str | None = field(default=None, repr=False)


class CredentialSource(Protocol):
    def get(self, host: str) -> Credential | None: ...


def _hostname(key: str) -> str:
    # The Docker CLI's ConvertToHostname: drop the scheme and any path.
    for scheme in ("http://", "https://"):
        if key.startswith(scheme):
            key = key[len(scheme):]
            break
    return key.split("/", 1)[0]


def _auth_key(host: str) -> str:
    return DOCKER_HUB_AUTH_KEY if host in (DEFAULT_DOMAIN, "index.docker.io",
                                           "registry-1.docker.io") else host


def find_docker_config(explicit: str | None = None,
                       environ: Mapping[str, str] | None = None) -> Path | None:
    """The config.json the Docker CLI would read: explicit path, `$DOCKER_CONFIG`, `~/.docker`."""
    env = os.environ if environ is None else environ
    if explicit:
        path = Path(explicit).expanduser()
        return path / "config.json" if path.is_dir() else path
    if env.get("DOCKER_CONFIG"):
        return Path(env["DOCKER_CONFIG"]).expanduser() / "config.json"
    home = env.get("HOME")
    base = Path(home) if home else Path.home()
    return base / ".docker" / "config.json"


@dataclass(frozen=True)
class DockerConfig:
    """A parsed `config.json` (empty when the file does not exist)."""

    path: Path | None
    auths: Mapping[str, Any] = field(default_factory=dict)
    cred_helpers: Mapping[str, str] = field(default_factory=dict)
    creds_store: str | None = None

    @classmethod
    def load(cls, explicit: str | None = None,
             environ: Mapping[str, str] | None = None) -> DockerConfig:
        path = find_docker_config(explicit, environ)
        if path is None or (not explicit and not path.exists()):
            return cls(path=None)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read Docker config: {exc.strerror}",
                              where=str(path)) from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ConfigError(f"Docker config is not valid JSON: {exc}", where=str(path)) from None
        if not isinstance(data, dict):
            raise ConfigError("Docker config must be a JSON object", where=str(path))
        auths = data.get("auths")
        helpers = data.get("credHelpers")
        auths = {} if auths is None else auths
        helpers = {} if helpers is None else helpers
        store = data.get("credsStore")
        if not isinstance(auths, dict) or not isinstance(helpers, dict) or \
                not all(isinstance(v, str) for v in helpers.values()) or \
                not (store is None or isinstance(store, str)):
            raise ConfigError("Docker config has malformed auths/credHelpers/credsStore",
                              where=str(path))
        return cls(path=path, auths=auths, cred_helpers=helpers, creds_store=store or None)

    def get(self, host: str) -> Credential | None:
        key = _auth_key(host)
        helper = self.cred_helpers.get(key) or self.cred_helpers.get(host)
        if helper:
            return run_helper(helper, key)
        if self.creds_store:
            found = run_helper(self.creds_store, key)
            if found is not None:
                return found
        entry = self.auths.get(key)
        if entry is None:
            entry = next((v for k, v in self.auths.items() if _hostname(k) == _hostname(key)),
                         None)
        if entry is None:
            return None
        return self._entry_credential(entry, key)

    def _entry_credential(self, entry: Any, key: str) -> Credential | None:
        where = f"{self.path} auths[{key!r}]"
        if not isinstance(entry, dict):
            raise ConfigError("auth entry must be an object", where=where)
        identity = entry.get("identitytoken") or None
        if entry.get("auth"):
            try:
                decoded = base64.b64decode(str(entry["auth"]), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                raise ConfigError("`auth` is not base64 of user:password", where=where) from None
            user, sep, password = decoded.partition(":")
            if not sep:
                raise ConfigError("`auth` does not decode to user:password", where=where)
            return Credential(user, password, identity)
        name, secret = entry.get("username"), entry.get("password")
        if isinstance(name, str) and isinstance(secret, str):
            return Credential(name, secret, identity)
        if isinstance(identity, str):
            return Credential("<token>", "", identity)
        return None


def run_helper(name: str, server: str) -> Credential | None:
    """Ask `docker-credential-<name>` for the credentials of `server` (None: it has none)."""
    import subprocess

    program = f"docker-credential-{name}"
    try:
        done = subprocess.run([program, "get"], input=server, capture_output=True, text=True,
                              timeout=_HELPER_TIMEOUT, check=False)
    except FileNotFoundError:
        raise RegistryError(f"credential helper {program} is not installed",
                            where=server) from None
    except subprocess.TimeoutExpired:
        raise RegistryError(f"credential helper {program} did not answer within "
                            f"{_HELPER_TIMEOUT:.0f}s", where=server) from None
    if done.returncode != 0:
        # The helper protocol's way of saying "nothing stored for this server".
        if "credentials not found" in (done.stdout + done.stderr).lower():
            return None
        raise RegistryError(f"credential helper {program} failed: "
                            f"{(done.stderr or done.stdout).strip()[:200]}", where=server)
    try:
        data = json.loads(done.stdout)
        user, secret = data["Username"], data["Secret"]
    except (json.JSONDecodeError, KeyError, TypeError):
        raise RegistryError(f"credential helper {program} printed no Username/Secret JSON",
                            where=server) from None
    if not isinstance(user, str) or not isinstance(secret, str):
        raise RegistryError(f"credential helper {program} printed a non-string Username/Secret",
                            where=server)
    if user == "<token>":
        return Credential(user, "", secret)
    return Credential(user, secret)


@dataclass(frozen=True)
class Credentials:
    """Where a host's credentials come from: agent config first (its own hosts), then Docker's."""

    static: Mapping[str, Credential] = field(default_factory=dict)
    docker: DockerConfig = field(default_factory=lambda: DockerConfig(path=None))

    def get(self, host: str) -> Credential | None:
        if host in self.static:
            return self.static[host]
        return self.docker.get(host)


def read_password_file(path: str) -> str:
    try:
        return Path(path).expanduser().read_text(encoding="utf-8").strip("\r\n")
    except OSError as exc:
        raise ConfigError(f"cannot read password file: {exc.strerror}",
                          where=f"images.password_file {path}") from None
