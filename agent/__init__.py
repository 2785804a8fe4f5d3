"""edgesync node agent: one sync pipeline, one package per stage."""

__version__ = "0.1.0"
