"""`edge-agent` commands of the daemon area."""
