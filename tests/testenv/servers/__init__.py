"""One module per component; each exposes `start(launcher)`."""
