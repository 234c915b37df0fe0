"""The optimizer lab's harness, in three layers, each importing only those below it:

- :mod:`harness.core`: optimizers, models, data sets, the training loop and its curves, and the
  typed configs (numpy only: no Hydra, no MLflow);
- :mod:`harness.tracking`: MLflow sinks, the store and its lock, a job's life (checkpoints,
  relaunch, progress), the UI and the team server;
- :mod:`harness.cli`: Hydra's side (composition, the override allowlist, the sweep callback) and
  the ``python -m harness`` entry point.

``harness.optim`` keeps the optimizers' public names where the lecture's snippet imports them.
"""
