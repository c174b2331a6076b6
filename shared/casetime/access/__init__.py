"""Access control: source keys for case systems, reader tokens for people and Prometheus, the
audit log, and rate limits (issue 13). ``credentials`` and ``limits`` are pure; ``store`` and
``gate`` are the adapters."""
