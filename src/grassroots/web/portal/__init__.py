"""portal pages."""
