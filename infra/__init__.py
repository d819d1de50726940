"""mlrig: infra."""
