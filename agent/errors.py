"""One error hierarchy for every stage.

Each error says what failed, where (file, field, object, image, server) and,
when known, what the node did about it, so the CLI, the logs and the fleet
report all print the same sentence.
"""

from __future__ import annotations


class EdgesyncError(Exception):
    """Base of every error the agent raises on purpose."""

    def __init__(self, message: str, *, where: str | None = None, action: str | None = None):
        self.message = message
        self.where = where
        self.action = action
        super().__init__(self.__str__())

    def __str__(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        if self.action:
            text = f"{text} ({self.action})"
        return text


class ConfigError(EdgesyncError):
    """The agent config or the tier policy is invalid."""


class RenderError(EdgesyncError):
    """An overlay could not be rendered (bad YAML, unsupported field, escape, cycle)."""


class SourceError(EdgesyncError):
    """The fleet repo could not be fetched, checked out or verified."""


class ImageError(EdgesyncError):
    """An image reference is malformed or could not be resolved."""


class PolicyError(EdgesyncError):
    """The bundle breaks a tier policy rule."""


class KubeError(EdgesyncError):
    """Talking to the Kubernetes API failed or an object was rejected."""


class StateError(EdgesyncError):
    """The node's durable state could not be read or written."""


class ReportError(EdgesyncError):
    """A report could not be spooled or delivered."""
