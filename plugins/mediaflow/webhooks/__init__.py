"""mediaflow webhooks."""
