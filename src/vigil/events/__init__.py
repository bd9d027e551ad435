"""Events: stored with their snapshots, linked to recordings, published on a bus and to MQTT."""
