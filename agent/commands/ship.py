"""`edge-agent` commands of the ship area."""
