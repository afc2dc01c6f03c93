"""CLI commands, one module per family; each registers itself on `nncli.app.app`."""
