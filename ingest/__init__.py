"""SMTP ingest actors and the pipeline stages behind their queues."""
