"""Keeping the catalog level with Dropbox: the catch-up and the worker that schedules it."""
