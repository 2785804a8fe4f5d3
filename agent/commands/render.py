"""`edge-agent` commands of the render area."""
