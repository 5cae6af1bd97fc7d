"""Request ids, structured logs without personal data, and Prometheus metrics."""
