"""Turn tracked optimizer-lab runs into tables, statistics, figures and a report.

- :mod:`analysis.load` — an MLflow study (experiment or sweep) → runs table and long curves table
- :mod:`analysis.stats` — per-configuration statistics across seeds (:mod:`analysis.series`
  holds the one-curve kernels)
- :mod:`analysis.figures` — seaborn figures with one palette keyed by label
- :mod:`analysis.report` — ``python -m analysis.report --experiment NAME``
"""
