"""Reproducible training and export scripts for the bundled models (run with the `train` extra)."""
