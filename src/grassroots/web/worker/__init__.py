"""worker pages."""
