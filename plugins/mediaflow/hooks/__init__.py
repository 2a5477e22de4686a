"""mediaflow hooks."""
