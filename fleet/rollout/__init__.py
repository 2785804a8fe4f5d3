"""fleet rollout."""
