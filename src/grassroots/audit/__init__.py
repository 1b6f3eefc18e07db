"""The audit trail: an append-only record of every change to registry and user data."""
