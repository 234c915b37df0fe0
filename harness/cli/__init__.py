"""The command line: Hydra composition, the override allowlist, the sweep callback, the entry
point (``python -m harness``)."""
