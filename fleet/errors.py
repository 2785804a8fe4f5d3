"""Errors of the fleet service, in the project's one hierarchy."""

from __future__ import annotations

from agent.errors import EdgesyncError


class FleetError(EdgesyncError):
    """Base of the fleet service's errors."""


class StoreError(FleetError):
    """The fleet store could not be opened, migrated, read or written."""


class NotFoundError(FleetError):
    """A node, operator or rollout does not exist."""


class ConflictError(FleetError):
    """A name is already taken, or a state change is not allowed now."""
