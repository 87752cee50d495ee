"""The local stack behind `make dev`: embedded moto, the proxy and API on one port, the ingest poller."""
