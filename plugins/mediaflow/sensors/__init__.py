"""mediaflow sensors."""
