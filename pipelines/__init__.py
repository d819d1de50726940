"""mlrig: pipelines."""
