"""The fleet service's HTTP API and dashboard."""
