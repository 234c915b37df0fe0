"""The lab's speed claims, measured: ``python -m benchmarks [--quick] [--only P1,P2,...]``.

- P1 (:mod:`benchmarks.optim_update`): one optimizer update, ours against the lecture's dict loop
  (:mod:`benchmarks.lecture`) and torch.optim when torch is installed;
- P2 (:mod:`benchmarks.tracking_overhead`): a 2000-step job tracked (SQLite, HTTP) vs untracked;
- P3 (:mod:`benchmarks.sweep_throughput`): a 24-job sweep, basic launcher vs joblib;
- P4 (:mod:`benchmarks.analysis_load`): ``analysis.load.load_study`` vs a metric-history loop;
- P5 (:mod:`benchmarks.demo`): ``make demo`` from a fresh clone, install and demo timed apart;
- P6 (:mod:`benchmarks.startup`): ``python -m harness --help`` and a refusal, now and before.

Ratios come from interleaved repeats (:mod:`benchmarks.timing`); each benchmark saves its
section to ``benchmarks/results/P*.json`` and ``benchmarks/RESULTS.md`` is rendered from all of
them (:mod:`benchmarks.results`). Nothing here runs under pytest: speed is measured, never
asserted in tests.
"""
