"""Tier policy, read from the fleet repo itself (`tiers.yaml` beside the overlays)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from agent.dataload import load_dataclass, parse_duration
from agent.errors import ConfigError


@dataclass(frozen=True)
class SyncPolicy:
    mode: Literal["realtime", "interval", "on-demand"] = "interval"
    interval: str = "1h"
    jitter: str = "0s"

    @property
    def interval_seconds(self) -> float:
        return parse_duration(self.interval, key="sync.interval")

    @property
    def jitter_seconds(self) -> float:
        return parse_duration(self.jitter, key="sync.jitter")


@dataclass(frozen=True)
class Window:
    """A maintenance window: opens at each `cron` match and stays open for `duration`."""

    cron: str
    duration: str
    timezone: str = "UTC"


@dataclass(frozen=True)
class Caps:
    """Per-container resource ceiling; None means no cap on that resource."""

    cpu: str | None = None
    memory: str | None = None


@dataclass(frozen=True)
class Tier:
    overlay: str
    registry: str
    rewrite: tuple[str, ...] = ()
    sync: SyncPolicy = field(default_factory=SyncPolicy)
    health_timeout: str = "5m"
    windows: tuple[Window, ...] = ()
    caps: Caps = field(default_factory=Caps)
    network: Literal["egress", "internal", "upload-only"] = "internal"
    name: str = ""  # the key it has in tiers.yaml; filled in by `load_tiers`

    @property
    def health_timeout_seconds(self) -> float:
        return parse_duration(self.health_timeout, key=f"tiers.{self.name}.health_timeout")


@dataclass(frozen=True)
class _TiersFile:
    tiers: dict[str, Tier]


@dataclass(frozen=True)
class TierPolicy:
    tiers: dict[str, Tier]
    root: Path

    def get(self, name: str) -> Tier:
        try:
            return self.tiers[name]
        except KeyError:
            known = ", ".join(sorted(self.tiers)) or "none"
            raise ConfigError(f"tier {name!r} is not defined (known: {known})",
                              where=str(self.root / "tiers.yaml")) from None

    def overlay_dir(self, name: str) -> Path:
        return self.root / self.get(name).overlay


def load_tiers(repo_root: str | Path, filename: str = "tiers.yaml") -> TierPolicy:
    """Load and validate the tier policy of a fleet repo checkout."""
    import yaml

    root = Path(repo_root)
    file = root / filename
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read tier policy: {exc.strerror}", where=str(file)) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", where=str(file)) from exc
    parsed = load_dataclass(_TiersFile, data, where=str(file))
    tiers: dict[str, Tier] = {}
    for name, entry in parsed.tiers.items():
        if entry.name:
            raise ConfigError(f"unknown key tiers.{name}.name", where=str(file))
        tier = replace(entry, name=name)
        # Read every duration once so a typo fails at load, not hours later in the loop.
        tier.sync.interval_seconds  # noqa: B018
        tier.sync.jitter_seconds  # noqa: B018
        tier.health_timeout_seconds  # noqa: B018
        overlay = (root / tier.overlay).resolve()
        if not overlay.is_relative_to(root.resolve()):
            raise ConfigError(f"tiers.{name}.overlay points outside the repo", where=str(file))
        tiers[name] = tier
    return TierPolicy(tiers=tiers, root=root)
