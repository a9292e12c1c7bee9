"""Milepost's shell, the top of the import graph: app factory, command line, server and worker, demo data."""
