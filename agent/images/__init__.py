"""The images stage."""
