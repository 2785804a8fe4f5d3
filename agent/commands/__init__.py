"""CLI command modules; each registers its commands on `agent.cli.app`."""
