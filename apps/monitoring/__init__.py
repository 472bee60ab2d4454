"""Monitoring: GET /metrics in the Prometheus text format, shared counters, HTTP metrics and JSON logs."""
