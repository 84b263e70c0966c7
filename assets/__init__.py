"""Dagster assets, one module per layer: raw -> staging -> conformed -> marts -> report."""
