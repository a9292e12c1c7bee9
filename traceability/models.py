"""Traceability models."""
