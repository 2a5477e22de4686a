"""mediaflow operators."""
