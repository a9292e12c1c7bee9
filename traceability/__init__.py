"""Traceability: part types, serialized parts, signed codes and labels, custody events, scans, alerts, recalls."""
