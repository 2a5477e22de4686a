"""mediaflow triggers."""
