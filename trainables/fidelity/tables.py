"""Seed 004's Table 5.1 and its accuracy-vs-σ figure from a trial's final metrics, and Tables
5.1 / 6.1 and Fig. 7.1 over a sweep's trials (one row per trial: a grid over estimator ×
ensemble, over ``ablation``, or over the classifier family)."""

from __future__ import annotations

import re

from trainables.fidelity.config import ESTIMATORS

_CONDITION = re.compile(r"^test_acc_(clean|s[0-9.]+|ramp1d|ramp2d|avg)$")
SETUP_ROWS = [(f"setup {n}: train on {what}, test {how} restoration", f"test_acc_setup{n}" + ("_restored" if how == "w/" else ""))
              for n, what in ((1, "clean"), (2, "degraded"), (3, "restored")) for how in ("w/o", "w/")]


# Fig. 7.1's bars per classifier family: test accuracy averaged over clean and every σ
FAMILY_COLUMNS = [("setup 1 + restoration", "test_acc_setup1_restored"), ("setup 2", "test_acc_setup2"),
                  ("setup 3 + restoration", "test_acc_setup3_restored"), ("proposed", "test_acc")]


def _columns(metrics: dict[str, float]) -> list[str]:
    return [m.group(1) for m in map(_CONDITION.match, metrics) if m]


def _row(label: str, metrics: dict[str, float], stem: str, columns: list[str]) -> dict | None:
    cells = {c: round(metrics[f"{stem}_{c}"], 4) for c in columns if f"{stem}_{c}" in metrics}
    return {"method": label, **cells} if cells else None


def method_label(metrics: dict[str, float]) -> str:
    estimator = ESTIMATORS[int(metrics.get("method_estimator", 1))]
    return f"proposed ({estimator}, {'w/' if metrics.get('method_ensemble', 0) else 'w/o'} ensemble)"


def table(metrics: dict[str, float]) -> list[dict]:
    """Table 5.1: test accuracy per condition of setups 1-3 and of this trial's method."""
    columns = _columns(metrics)
    rows = [_row(label, metrics, stem, columns) for label, stem in SETUP_ROWS]
    return [r for r in [*rows, _row(method_label(metrics), metrics, "test_acc", columns)] if r]


def curves(metrics: dict[str, float]) -> dict[str, list[dict]]:
    """Accuracy against uniform σ (Fig. 3.3 and Table 5.1 as lines): setups 1-3 and the method."""
    sigmas = [("clean", 0.0)] + [(c, float(c[1:])) for c in _columns(metrics) if c.startswith("s")]
    lines = [(label.split(":")[0] + (" + restoration" if "w/ " in label else ""), stem) for label, stem in SETUP_ROWS]
    lines.append((method_label(metrics), "test_acc"))
    return {"acc_vs_sigma": [{"sigma": s, **{name: metrics.get(f"{stem}_{c}") for name, stem in lines}} for c, s in sigmas]}


def sweep_rows(trials: list[tuple[dict, dict[str, float]]]) -> dict[str, list[dict]]:
    """Over a sweep's finished trials (params, final metrics): Table 5.1 with one method row per
    trial, Table 6.1 (one row per ``ablation`` value, when the sweep searched it) and Fig. 7.1
    (one row per classifier family, when the sweep searched it)."""
    if not trials:
        return {}
    columns = _columns(trials[0][1])
    # The setups' rows come from the trials' baselines, which differ only between classifier
    # families: one set of setup rows per family, labelled with it when a sweep searched it.
    by_family: dict[str, dict[str, float]] = {}
    for p, m in trials:
        by_family.setdefault(str(p.get("classifier", "")), m)
    t51 = [{**r, "method": f"{r['method']} [{family}]".replace(" []", "")}
           for family, m in by_family.items() for r in table(m) if r["method"].startswith("setup")]
    t51 += [r for r in (_row(f"{method_label(m)} [{p.get('trial', '')}]".replace(" []", ""), m, "test_acc", columns)
                        for p, m in trials) if r]
    out = {"table5_1_trials": t51}
    if any("classifier" in p for p, _ in trials):
        out["fig7_1"] = [{"classifier": str(p.get("classifier")),
                          **{label: round(m[f"{stem}_avg"], 4) for label, stem in FAMILY_COLUMNS if f"{stem}_avg" in m}}
                         for p, m in trials]
    if any("ablation" in p for p, _ in trials):
        out["table6_1"] = [r for r in (_row(str(p.get("ablation", "none")), m, "test_acc", columns) for p, m in trials) if r]
    return out
