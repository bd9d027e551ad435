"""Export packages: footage that leaves Vigil, sealed, signed and redacted by default."""
