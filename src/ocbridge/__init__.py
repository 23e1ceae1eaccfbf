"""ocbridge: an integration hub for OpenCart shops."""

__version__ = "0.1.0"
