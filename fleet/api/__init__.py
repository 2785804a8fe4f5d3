"""fleet api."""
