"""Release: what the delivery workflows run after the model is built (smoke, deploy, rollback, PR comment)."""
