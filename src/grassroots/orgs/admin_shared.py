"""Shared resources, bookings and joint projects in the admin."""
