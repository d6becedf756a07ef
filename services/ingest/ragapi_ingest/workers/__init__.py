"""The JetStream workers of the ingest service: ingest, index, delete, purge."""
