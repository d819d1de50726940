"""mlrig: service."""
