"""axhub: an open precision-medicine AX hub for a regional health system."""

__version__ = "0.1.0"
