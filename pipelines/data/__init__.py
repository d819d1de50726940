"""mlrig: pipelines/data."""
