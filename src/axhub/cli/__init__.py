"""Command line interface (Typer): one module per command group, thin over the library."""
