"""The findings table: one row per claim of the lecture and condition, with a verdict.

Claims (the lecture's two, split into what can be measured):

- *stall* studies (stationary runs with Adagrad and RMSprop), per problem:
  ``adagrad_decays`` Adagrad's effective step decays like t^(-1/2) (exponent within ±0.1 of
  -0.5); ``rmsprop_steady`` RMSprop's does not decay, per α (|exponent| < 0.1);
  ``stall_costs`` Adagrad ends with a higher test loss than the best RMSprop (paired by seed);
  ``alpha_matters`` the worst α ends with a higher test loss than the best α (paired);
  ``alpha_works`` α = 0.9 and 0.99 each end within 2 % of the best α's test loss (paired ratio).
- *shift* studies (runs with ``dataset.shift_step`` and unshifted controls), per kind of change
  and α: ``recovers_faster`` RMSprop is back within 10 % of the jump sooner than Adagrad.

Every arm runs at the learning rate (and, for "the best RMSprop", the α) selected on
**validation** loss: fewest diverged or failed seeds first, then the lowest median
``final_val_loss``. Every loss verdict is on the **test** split; recovery is on the training
loss (the quantity logged every step); exponents are optimizer-internal (``n/a``). The rule
that turns an interval into a verdict is in :mod:`analysis.verdicts`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

import numpy as np
import pandas as pd

from analysis import stats
from analysis import verdicts as v
from analysis.strings import DEFAULT, load

__all__ = ["COLUMNS", "Claim", "read_findings", "select_groups", "to_findings", "to_sentences"]

COLUMNS = [
    "study",
    "claim",
    "arm",
    "effect",
    "ci_low",
    "ci_high",
    "n",
    "split",
    "test",
    "p_adj",
    "verdict",
    "seeds_needed",
    "kind",
    "statement",
    "quantity",
    "margin",
    "ci_level",
    "p_perm",
    "p_perm_holm",
    "n_excluded",
    "figure",
]
EXPONENT_MARGIN = 0.1
WORKS_MARGIN = 0.02
WORKING_ALPHAS = (0.9, 0.99)
STATEMENTS = {
    "adagrad_decays": "Adagrad's effective step decays like t^(-1/2)",
    "rmsprop_steady": "RMSprop's effective step does not decay",
    "stall_costs": "Adagrad's stall costs final test loss against the best RMSprop",
    "alpha_matters": "the decay rate matters: the worst α ends worse than the best α",
    "alpha_works": "α = 0.9 or 0.99 works: within 2 % of the best α's test loss",
    "recovers_faster": "RMSprop recovers faster than Adagrad after the change",
}


def read_findings(path) -> pd.DataFrame:
    """A findings CSV as written, with ``n/a`` kept as the word (pandas reads it as NaN)."""
    return pd.read_csv(path, keep_default_na=False, na_values=[""])


def select_groups(runs: pd.DataFrame, by: Iterable[str] = ("problem", "label")) -> pd.DataFrame:
    """The selected group of each ``by`` combination: fewest diverged or failed seeds, then
    the lowest median ``final_val_loss`` (validation, never test). One row per selection with
    ``group``, ``optimizer.lr`` and the ``by`` columns.
    """
    by = [c for c in by if c in runs]
    ok = stats.finished_ok(runs)
    val = pd.to_numeric(runs.get("final_val_loss"), errors="coerce").where(ok)
    table = runs.assign(_bad=~ok, _val=val)
    per_group = table.groupby([*by, "group"], sort=False, dropna=False).agg(
        bad=("_bad", "sum"), median_val=("_val", "median"), lr=("optimizer.lr", "first")
    )
    per_group = per_group.reset_index().sort_values(
        ["bad", "median_val"], na_position="last", kind="stable"
    )
    return per_group.drop_duplicates(by).rename(columns={"lr": "optimizer.lr"})


def _per_seed(runs: pd.DataFrame, group: str, column: str) -> pd.Series:
    """``column`` by seed for one group; nan for seeds that diverged or failed."""
    part = runs[runs["group"] == group]
    if column not in part:  # runs logged before the test split existed
        return pd.Series(np.nan, index=part["seed"].to_numpy())
    values = pd.to_numeric(part[column], errors="coerce").where(stats.finished_ok(part))
    by_seed = pd.Series(values.to_numpy(), index=part["seed"].to_numpy())
    return by_seed[~by_seed.index.duplicated(keep="last")]  # a seed run twice: its latest


def _paired(a: pd.Series, b: pd.Series) -> tuple[np.ndarray, int]:
    """Differences a − b over the seeds both have finite; and how many seeds were dropped."""
    joined = pd.concat([a.rename("a"), b.rename("b")], axis=1)
    keep = np.isfinite(joined["a"]) & np.isfinite(joined["b"])
    return (joined["a"] - joined["b"])[keep].to_numpy(), int((~keep).sum())


class Claim:
    """One row under construction: ``values`` (per-seed effects) and how to judge them."""

    def __init__(self, study, claim, arm, values, *, kind, split, quantity, figure, **extra):
        self.row = {
            "study": study,
            "claim": claim,
            "statement": STATEMENTS[claim],
            "arm": arm,
            "kind": kind,
            "split": split,
            "quantity": quantity,
            "figure": figure,
            **extra,
        }
        self.values = np.asarray(values, dtype=np.float64)


def _label(runs: pd.DataFrame, group: str) -> str:
    """``RMSprop α=0.9 · lr 0.001 · mnist1d/mlp``, flagged when that lr is the edge of its
    label's grid (the best may lie beyond it)."""
    part = runs[runs["group"] == group].iloc[0]
    lr = float(part["optimizer.lr"])
    edge = " (grid edge)" if at_grid_edge(runs, part["label"], lr) else ""
    return f"{part['label']} · lr {lr:g}{edge} · {part['problem']}"


def at_grid_edge(runs: pd.DataFrame, label: str, lr: float) -> bool:
    """Whether ``lr`` is the smallest or largest of ``label``'s lr grid (of more than one lr):
    the best may then lie beyond the grid.

    >>> runs = pd.DataFrame({"label": ["A", "A", "A"], "optimizer.lr": [0.1, 0.3, 1.0]})
    >>> at_grid_edge(runs, "A", 1.0), at_grid_edge(runs, "A", 0.3)
    (True, False)
    """
    grid = pd.to_numeric(runs.loc[runs["label"] == label, "optimizer.lr"]).unique()
    return grid.size > 1 and lr in (grid.min(), grid.max())


def _stall_claims(study: str, runs: pd.DataFrame, curves: pd.DataFrame) -> list[Claim]:
    stationary = runs
    if "dataset.shift_step" in runs:
        stationary = runs[pd.to_numeric(runs["dataset.shift_step"], errors="coerce").isna()]
    claims: list[Claim] = []
    if not {"adagrad", "rmsprop"} <= set(stationary["optimizer"]):
        return claims
    chosen = select_groups(stationary)
    exponents = stats.to_decay_exponents(curves, stationary).set_index("run_id")["decay_exponent"]
    for problem, part in chosen.groupby("problem", sort=True):
        groups = dict(zip(part["label"], part["group"], strict=True))
        adagrad = groups.get("Adagrad")
        rmsprop = {lab: g for lab, g in groups.items() if lab.startswith("RMSprop")}
        if adagrad is None or not rmsprop:
            continue
        for label, group in [("Adagrad", adagrad), *sorted(rmsprop.items())]:
            seeds = stationary[stationary["group"] == group]
            values = seeds["run_id"].map(exponents).to_numpy(dtype=np.float64)
            name = "adagrad_decays" if label == "Adagrad" else "rmsprop_steady"
            center = -0.5 if label == "Adagrad" else 0.0
            claims.append(
                Claim(
                    study,
                    name,
                    _label(stationary, group),
                    values,
                    kind=v.EQUIVALENCE,
                    split="n/a",
                    quantity="decay exponent of the effective step",
                    figure="effective_lr",
                    margin=(center - EXPONENT_MARGIN, center + EXPONENT_MARGIN),
                    n_excluded=int((~np.isfinite(values)).sum()),
                )
            )
        claims += _loss_claims(study, stationary, problem, adagrad, rmsprop)
    return claims


def _loss_claims(study, runs, problem, adagrad, rmsprop) -> list[Claim]:
    chosen_rms = select_groups(runs[runs["group"].isin(rmsprop.values())], by=("problem",))
    best = chosen_rms["group"].iloc[0]
    test = lambda g: _per_seed(runs, g, "final_test_loss")  # noqa: E731

    def worse_than_best(claim: str, group: str) -> Claim:
        diff, dropped = _paired(test(group), test(best))
        return Claim(
            study,
            claim,
            f"{_label(runs, group)} − {_label(runs, best)}",
            diff,
            kind=v.DIFFERENCE,
            direction=+1,
            split="test",
            quantity="final test loss, paired by seed",
            figure="lr_sensitivity",
            n_excluded=dropped,
        )

    claims = [worse_than_best("stall_costs", adagrad)]
    if len(rmsprop) < 2:
        return claims
    val = lambda g: _per_seed(runs, g, "final_val_loss")  # noqa: E731  (selection: validation)
    medians = {lab: np.nanmedian(val(g).to_numpy()) for lab, g in rmsprop.items()}
    worst = rmsprop[max(medians, key=lambda lab: np.nan_to_num(medians[lab], nan=np.inf))]
    if worst != best:
        claims.append(worse_than_best("alpha_matters", worst))
    for group in (g for _, g in sorted(rmsprop.items()) if g != best):  # best: nothing to ask
        alpha = float(runs.loc[runs["group"] == group, "optimizer.decay_rate"].iloc[0])
        if not any(math.isclose(alpha, a) for a in WORKING_ALPHAS):
            continue
        ratio = test(group) / test(best) - 1.0
        values = ratio.to_numpy(dtype=np.float64)
        claims.append(
            Claim(
                study,
                "alpha_works",
                f"{_label(runs, group)} ÷ {_label(runs, best)} − 1",
                values,
                kind=v.EQUIVALENCE,
                split="test",
                quantity="relative final test loss, paired by seed",
                figure="lr_sensitivity",
                margin=(-math.inf, WORKS_MARGIN),
                n_excluded=int((~np.isfinite(values)).sum()),
            )
        )
    return claims


def _shift_claims(study: str, runs: pd.DataFrame, curves: pd.DataFrame) -> list[Claim]:
    if "dataset.shift_kind" not in runs or "dataset.shift_step" not in runs:
        return []
    shifted = runs[pd.to_numeric(runs["dataset.shift_step"], errors="coerce").notna()]
    shifted = shifted[shifted["dataset.shift_kind"].astype(str) != stats.CONTROL_KIND]
    if shifted.empty:
        return []
    recovery = stats.to_recovery_times(curves, runs).set_index("run_id")
    remaining = pd.to_numeric(runs["trainer.steps"]) - pd.to_numeric(runs["dataset.shift_step"])
    cap = dict(zip(runs["run_id"], remaining, strict=True))
    chosen = select_groups(shifted, by=("problem", "dataset.shift_kind", "label"))
    claims = []
    for (_, kind), part in chosen.groupby(["problem", "dataset.shift_kind"], sort=True):
        groups = dict(zip(part["label"], part["group"], strict=True))
        if "Adagrad" not in groups:
            continue
        times = {label: _recovery_by_seed(runs, g, recovery, cap) for label, g in groups.items()}
        for label in sorted(lab for lab in groups if lab.startswith("RMSprop")):
            diff, dropped = _paired(times["Adagrad"][0], times[label][0])
            censored = times["Adagrad"][1] + times[label][1]
            claims.append(
                Claim(
                    study,
                    "recovers_faster",
                    f"{kind}: {_label(runs, groups['Adagrad'])} − {_label(runs, groups[label])}",
                    diff,
                    kind=v.DIFFERENCE,
                    direction=+1,
                    split="train",
                    quantity=f"steps to recover ({censored} run(s) never did: counted as the "
                    "steps left, a lower bound), paired by seed",
                    figure="loss",
                    n_excluded=dropped,
                )
            )
    return claims


def _recovery_by_seed(runs, group, recovery, cap) -> tuple[pd.Series, int]:
    """Recovery steps by seed (never = the steps left, a censored lower bound; undefined nan),
    and how many seeds never recovered."""
    part = runs[runs["group"] == group]
    times = part["run_id"].map(recovery["recovery_time"]).astype("float64").to_numpy()
    capped = np.minimum(times, part["run_id"].map(cap).to_numpy(dtype=np.float64))
    by_seed = pd.Series(capped, index=part["seed"].to_numpy())
    return by_seed[~by_seed.index.duplicated(keep="last")], int(np.isinf(times).sum())


def _judge(claims: list[Claim]) -> pd.DataFrame:
    """Intervals, Holm across the difference claims, verdicts and seeds needed."""
    p = [v.t_p_value(c.values) if c.row["kind"] == v.DIFFERENCE else math.nan for c in claims]
    p_perm = [
        v.sign_flip_p(c.values) if c.row["kind"] == v.DIFFERENCE else math.nan for c in claims
    ]
    p_adj, levels = v.holm(p)
    p_perm_adj, _ = v.holm(p_perm)
    rows = []
    for claim, pa, level, pp, raw in zip(claims, p_adj, levels, p_perm_adj, p_perm, strict=True):
        row = dict(claim.row)
        if row["kind"] == v.DIFFERENCE:
            ci_level = 1 - level if math.isfinite(level) else 1 - v.ALPHA
            interval = v.mean_interval(claim.values, ci_level)
            row["verdict"] = v.difference_verdict(interval, row.pop("direction"))
            row["seeds_needed"] = v.seeds_needed_difference(claim.values, ci_level)
            row["test"] = "paired t (Holm); sign-flip p beside"
            row["margin"] = "excludes 0, > 0"
        else:
            ci_level = 1 - v.ALPHA
            interval = v.mean_interval(claim.values, ci_level)
            low, high = row["margin"]
            row["verdict"] = v.equivalence_verdict(interval, low, high)
            row["seeds_needed"] = v.seeds_needed_equivalence(claim.values, low, high)
            row["test"] = "t interval inside margin (equivalence)"
            row["margin"] = f"[{low:g}, {high:g}]"
        if row["verdict"] != v.UNRESOLVED:
            row["seeds_needed"] = math.nan
        row.update(
            effect=interval.mean,
            ci_low=interval.low,
            ci_high=interval.high,
            n=interval.n,
            ci_level=ci_level,
            p_adj=pa,
            p_perm=raw,
            p_perm_holm=pp,
        )
        rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)


def to_findings(studies: Iterable[tuple[str, pd.DataFrame, pd.DataFrame]]) -> pd.DataFrame:
    """The findings of ``(study name, runs, curves)`` triples, judged together (one Holm
    family across all their difference claims)."""
    claims: list[Claim] = []
    for name, runs, curves in studies:
        claims += _stall_claims(name, runs, curves) + _shift_claims(name, runs, curves)
    return _judge(claims)


def _fmt(x: float) -> str:
    return "—" if not math.isfinite(x) else f"{x:+.3g}"


def to_sentences(findings: pd.DataFrame, lang: str = DEFAULT) -> list[str]:
    """One sentence per finding in ``lang``: verdict, claim, arm, effect with its interval and n.

    >>> row = dict(verdict="held", statement="S", arm="A", quantity="q", effect=0.5,
    ...            ci_low=0.1, ci_high=0.9, n=8, ci_level=0.95, split="test", margin="[0, 1]",
    ...            kind="equivalence", seeds_needed=float("nan"), n_excluded=0, p_adj=float("nan"))
    >>> to_sentences(pd.DataFrame([row]))[0]
    '**held** — S (A): q +0.5 [+0.1, +0.9], 95 % interval, n=8; split: test; margin [0, 1].'
    >>> ja = to_sentences(pd.DataFrame([{**row, "claim": "rmsprop_steady"}]), "ja")[0]
    >>> ja.split("（A）")[0]
    '**成立** — RMSprop の実効ステップは減衰しない（ブレンドは過去を少しずつ忘れる）'
    >>> ja.split("（A）")[1]
    '：q +0.5 [+0.1, +0.9]、95 % 区間、n=8；データ：テスト；許容範囲 [0, 1]。'
    """
    tr = load(lang)
    out = []
    for row in findings.to_dict("records"):
        if row["n"] >= 2:
            effect = tr(
                "sentence.effect",
                effect=_fmt(row["effect"]),
                low=_fmt(row["ci_low"]),
                high=_fmt(row["ci_high"]),
                level=100 * row["ci_level"],
                n=row["n"],
            )
        else:
            effect = tr("sentence.no_interval", effect=_fmt(row["effect"]), n=row["n"])
        rule = tr("sentence.margin", margin=row["margin"]) if row["kind"] == v.EQUIVALENCE else ""
        if row["kind"] == v.DIFFERENCE:
            rule = tr("sentence.holm", p=row["p_adj"]) if math.isfinite(row["p_adj"]) else ""
            if math.isfinite(row.get("p_perm", math.nan)):
                rule += tr("sentence.sign_flip", p=row["p_perm"])
        extra = [tr("sentence.split", split=tr.term(row["split"])), rule]
        if row.get("n_excluded"):
            extra.append(tr("sentence.excluded", n=row["n_excluded"]))
        if row["verdict"] == v.UNRESOLVED and math.isfinite(row["seeds_needed"]):
            extra.append(tr("sentence.seeds_needed", n=int(row["seeds_needed"])))
        out.append(
            tr(
                "sentence",
                verdict=tr.term(row["verdict"]),
                statement=tr.statement(row.get("claim", ""), row["statement"]),
                arm=row["arm"].replace(" (grid edge)", tr("findings.grid_edge")),
                quantity=_quantity(row["quantity"], tr),
                effect=effect,
                tail=tr("sentence.join").join(e for e in extra if e),
            )
        )
    return out


def _quantity(quantity: str, tr) -> str:
    """The quantity in the sentence's language (a recovery's count of censored runs kept)."""
    censored = re.match(r"steps to recover \((\d+) run\(s\) never did", quantity)
    if censored:
        return tr("sentence.recovery_quantity", censored=int(censored.group(1)))
    return tr.term(quantity)
