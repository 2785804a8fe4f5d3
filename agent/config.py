"""The agent config file (`/etc/edgesync/agent.yaml`), validated on load."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from agent.dataload import load_dataclass
from agent.errors import ConfigError

DEFAULT_CONFIG = "/etc/edgesync/agent.yaml"


@dataclass(frozen=True)
class AuthConfig:
    username: str | None = None
    password_file: str | None = None
    token_file: str | None = None
    ssh_key_file: str | None = None
    known_hosts_file: str | None = None


@dataclass(frozen=True)
class VerifyConfig:
    mode: Literal["none", "head"] = "none"
    keys_dir: str | None = None


@dataclass(frozen=True)
class SourceConfig:
    path: str | None = None
    url: str | None = None
    ref: str = "main"
    tiers_file: str = "tiers.yaml"
    auth: AuthConfig = field(default_factory=AuthConfig)
    verify: VerifyConfig = field(default_factory=VerifyConfig)
    keep_revisions: int = 3


@dataclass(frozen=True)
class KubeConfig:
    kubeconfig: str | None = None
    context: str | None = None
    namespace: str = "edgesync-system"
    field_manager: str = "edgesync"


@dataclass(frozen=True)
class ImagesConfig:
    registry_override: str | None = None
    insecure_http: bool = False
    ca_file: str | None = None
    docker_config: str | None = None
    username: str | None = None
    password_file: str | None = None
    pin: Literal["platform", "index"] = "platform"
    check: bool = True
    prepull: bool = False


@dataclass(frozen=True)
class PolicyConfig:
    """Tier policy checks run on the node before apply (the same rules as `validate`)."""

    enforce: bool = True


@dataclass(frozen=True)
class FleetConfig:
    url: str | None = None
    token_file: str | None = None
    heartbeat_interval: str = "5m"
    spool_max_bytes: int = 16 * 1024 * 1024
    ca_file: str | None = None
    # Staged rollouts (GET /v1/rollouts/gate) before moving revision: `follow` obeys a
    # rollout that names this tier, `require` moves only to revisions a rollout released
    # to this node, `ignore` never asks.
    rollouts: Literal["follow", "require", "ignore"] = "follow"


@dataclass(frozen=True)
class WebhookConfig:
    listen: str | None = None
    secret_file: str | None = None


@dataclass(frozen=True)
class DaemonConfig:
    socket: str = "/run/edgesync/agent.sock"
    socket_group: str | None = None
    lock_file: str = "/run/edgesync/update.lock"
    metrics_listen: str | None = "127.0.0.1:9464"
    log_format: Literal["json", "kv"] = "kv"
    resync_interval: str | None = "10m"
    webhook: WebhookConfig = field(default_factory=WebhookConfig)


@dataclass(frozen=True)
class AgentConfig:
    node: str
    tier: str
    region: str | None = None
    platform: str | None = None
    source: SourceConfig = field(default_factory=SourceConfig)
    kube: KubeConfig = field(default_factory=KubeConfig)
    state_dir: str = "/var/lib/edgesync"
    images: ImagesConfig = field(default_factory=ImagesConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    fleet: FleetConfig = field(default_factory=FleetConfig)
    daemon: DaemonConfig = field(default_factory=DaemonConfig)

    @property
    def state_path(self) -> Path:
        return Path(self.state_dir)


def load_config(path: str | os.PathLike[str] | None = None) -> AgentConfig:
    """Read and validate an agent config; relative paths inside it resolve against its folder."""
    import yaml

    file = Path(path or os.environ.get("EDGESYNC_CONFIG", DEFAULT_CONFIG))
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config: {exc.strerror}", where=str(file)) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", where=str(file)) from exc
    cfg = load_dataclass(AgentConfig, data, where=str(file))
    _check(cfg, str(file))
    return cfg


def _check(cfg: AgentConfig, where: str) -> None:
    if not cfg.node.strip():
        raise ConfigError("node must not be empty", where=where)
    if not cfg.tier.strip():
        raise ConfigError("tier must not be empty", where=where)
    if cfg.source.path is None and cfg.source.url is None:
        raise ConfigError("source needs either source.path or source.url", where=where)
    if cfg.source.path is not None and cfg.source.url is not None:
        raise ConfigError("source.path and source.url are exclusive; set one", where=where)
    if cfg.source.verify.mode == "head" and not cfg.source.verify.keys_dir:
        raise ConfigError("source.verify.keys_dir is required when source.verify.mode is head",
                          where=where)
