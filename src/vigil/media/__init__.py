"""Reading camera streams and writing them to segment files, without re-encoding."""
