"""Federation: sites that record alone, and a hub that sees all of them (NATS JetStream)."""
