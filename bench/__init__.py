"""`make bench`: the proxy's added latency, throughput and memory, cold starts, DynamoDB units and
the AWS cost per million calls, measured in one run and written to docs/benchmarks.md."""
