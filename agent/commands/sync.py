"""`edge-agent` commands of the sync area."""
