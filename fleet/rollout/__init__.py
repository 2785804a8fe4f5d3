"""Staged rollouts across the fleet (waves by tier and percentage, gated on health)."""

from fleet.rollout.waves import (
    Wave,
    abort,
    gate,
    promote,
    start,
    status,
    wave_assignment,
    wave_nodes,
)

__all__ = ["Wave", "abort", "gate", "promote", "start", "status", "wave_assignment",
           "wave_nodes"]
