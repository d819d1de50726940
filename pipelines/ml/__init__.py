"""mlrig: pipelines/ml."""
