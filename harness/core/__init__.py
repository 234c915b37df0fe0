"""The numerical core: optimizers, models, data sets, the training loop, curves and typed configs.

No Hydra and no MLflow here (``tests/test_layers.py``).
"""
