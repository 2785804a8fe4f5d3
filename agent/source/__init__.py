"""The source stage."""
