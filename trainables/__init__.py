"""Everything a trial runs: data, degradations, models, losses, metrics, retrieval, schemes.

Nothing below this package imports ray or mlflow, except the thin trainable adapters.
"""
