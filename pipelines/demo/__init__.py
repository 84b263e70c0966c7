"""Seeded demo data: a synthetic i-milo drop zone whose figures are those of the 2025 report."""
