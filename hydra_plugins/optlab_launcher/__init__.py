"""The optimizer lab's Hydra launchers (``conf/hydra/launcher/``): see ``.launcher``."""
