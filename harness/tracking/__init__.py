"""Tracking: the MLflow sink, the store, a job's life (checkpoints, relaunch, progress), a
sweep's parent run, the UI and the team server.

Imports :mod:`harness.core`, never :mod:`harness.cli` (``tests/test_layers.py``).
"""
