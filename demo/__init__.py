"""Seeded demo data: a synthetic i-milo drop zone whose figures are those of the 2025 report.

Outside the installed package on purpose (a checkout is needed to build the demo);
`demo.workbook` is also the workbook writer of the benchmark and the tests.
"""
