"""Register the typed config dataclasses as Hydra schemas (``<option>_schema`` in each group).

Each ``conf/<group>/<option>.yaml`` starts with ``defaults: [<option>_schema, _self_]``, so a
wrong key or a wrong type fails while Hydra composes the config (Hydra's
``structured_configs/5.1_structured_config_schema_same_config_group`` pattern). A data set's
schema is made from its loader's signature (``harness.core.config.dataset_configs``), so every
registered data set has one.
"""

from __future__ import annotations

from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

from harness.core import config as c
from harness.tracking.store import PROJECT_ROOT

SCHEMAS = {
    "optimizer": c.OPTIMIZER_CONFIGS,
    "model": {
        "mlp": c.MLPConfig,
        "softmax": c.SoftmaxConfig,
        "linear": c.LinearConfig,
        "function2d": c.Function2DConfig,
    },
    "trainer": {"trainer": c.TrainerConfig},
    "tracking": {"tracking": c.TrackingConfig},
}


def scale(base, factor) -> float:
    """``${scale:0.01,${lr_scale}}``: a base learning rate times the sweep's ``lr_scale``."""
    return float(f"{float(base) * float(factor):.12g}")  # 0.001 x 0.3 reads 0.0003


def _share_config_store() -> None:
    """Let Hydra's copies of its config repository share the ConfigStore instead of copying it.

    Hydra deep-copies the repository, ConfigStore included, each time it lists a group's options:
    about 80 times for ``--help``, which was more than half its time. The store is a singleton
    whose ``load`` already returns a copy of the node it holds, so no copy of the repository can
    change what another one reads (``tests/test_harness.py`` composes after an override to show it).
    """
    ConfigStore.__deepcopy__ = lambda self, memo: self


def config_groups() -> str:
    """``--help``'s list of choices, ``group: option, option`` a line, read from ``conf/``:
    Hydra's own list (``$APP_CONFIG_GROUPS``) also names the ``*_schema`` entries, which are
    what the options build on, not choices."""
    conf = PROJECT_ROOT / "conf"
    lines = []
    for group in sorted(p for p in conf.iterdir() if p.is_dir() and p.name != "hydra"):
        options = sorted(f.stem for f in group.glob("*.yaml"))
        lines.append(f"{group.name}: {', '.join(options)}")
    return "\n".join(lines)


def register() -> None:
    _share_config_store()
    OmegaConf.register_new_resolver("scale", scale, replace=True)
    OmegaConf.register_new_resolver("optlab_groups", config_groups, replace=True)
    store = ConfigStore.instance()
    groups = {**SCHEMAS, "dataset": c.dataset_configs()}  # read from the loaders, not listed
    for group, options in groups.items():
        for name, node in options.items():
            store.store(group=group, name=f"{name}_schema", node=node)


register()
