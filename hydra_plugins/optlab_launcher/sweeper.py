"""Hydra's basic sweeper, as ``hydra/sweeper=optlab`` (the default: ``conf/config.yaml``).

Before launching, Hydra's sweeper composes every job's config once more, one after the other, to
catch bad jobs early (~0.1 s a job); ``harness.cli.sweep.SweepCallback`` has already checked
the same jobs, faster and before any run exists, so this sweeper leaves the check to
``validate_jobs``, which does not check a job twice.
"""

from __future__ import annotations

from collections.abc import Sequence

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper as HydraBasicSweeper


class BasicSweeper(HydraBasicSweeper):
    def validate_batch_is_legal(self, batch: Sequence[Sequence[str]]) -> None:
        """Each job as the launcher composes it (Hydra's own overrides first), checked once."""
        from harness.cli.sweep import validate_jobs

        hydra_overrides = list(self.config.hydra.overrides.hydra)
        jobs = [[*hydra_overrides, *overrides] for overrides in batch]
        validate_jobs(self.config.hydra.job.config_name, jobs)
