"""`edge-agent` commands of the images area."""
