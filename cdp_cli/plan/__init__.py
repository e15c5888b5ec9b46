"""Tracking plans: the format, loading with positions, checks, compilation to JSON Schema, export."""
