"""The source stage: config -> `Revision` (an immutable checkout of the fleet repo)."""

from __future__ import annotations

from agent.config import AgentConfig
from agent.model import Revision


def resolve(cfg: AgentConfig, *, offline: bool) -> Revision:
    if cfg.source.url:
        from agent.source import git

        return git.resolve(cfg, offline=offline)
    from agent.source.local import resolve_local

    assert cfg.source.path is not None  # load_config requires path or url
    return resolve_local(cfg.source.path)
