"""fleet store."""
