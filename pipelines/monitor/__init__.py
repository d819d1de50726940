"""mlrig: monitoring — drift, outcomes, retraining triggers."""
