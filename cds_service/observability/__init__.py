"""What the service tells its operator: JSON log lines, the per-call audit event, and the
Prometheus metrics (issue 11).

`logs` is imported by the command line before any app exists; `metrics` imports
prometheus-client, which fixes at import whether it runs in multiprocess mode, so it is
imported by the app only, after `cds-service serve` has set `PROMETHEUS_MULTIPROC_DIR`.
Nothing is re-exported here for that reason.
"""
