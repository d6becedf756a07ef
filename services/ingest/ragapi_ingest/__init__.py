"""The ingest service: uploads, texts, documents, tasks, and the index workers."""
