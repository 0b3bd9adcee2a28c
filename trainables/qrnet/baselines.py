"""The baseline rows, evaluated once on the test split by a stage (``metrics.json``) so every
trial reports them as constants: ``BASELINES`` for qrnet (Tables 2 and 4), ``MBASELINES`` for
mqrnet (Fig. 6). Metric names: see ``trainables.qrnet``."""

from __future__ import annotations

import json
from pathlib import Path

from torch import nn

from trainables.qrnet.algorithm import evaluate, name_metrics
from trainables.qrnet.classifiers import accuracy
from trainables.qrnet.data import as_float, load_split
from trainables.qrnet.stages import CLASSIFIER, FINETUNED, ONE_CLASSIFIER, RECNET, ensure_data, kind_sets
from trainables.stages import Stage


def _const(pick: dict[str, nn.Module | None]):
    """A per-type picker from a dict, or one network (``"*"``) for every type."""
    return lambda kind: pick[kind] if kind in pick else pick["*"]


def _eval_key(config) -> dict:
    return {"images": config.eval_images, "batch": config.eval_batch}


def _load_metrics(folder: Path, config, *, device) -> dict[str, float]:
    return json.loads((folder / "metrics.json").read_text())


def _write_metrics(out: Path, metrics: dict[str, float]) -> None:
    (out / "metrics.json").write_text(json.dumps(metrics, indent=0, sort_keys=True))


# ---------------------------------------------------------------- qrnet: Tables 2 and 4


def _baselines_key(config) -> dict:
    kinds, name = tuple(config.distortions), config.classifier
    return {"scheme": "qrnet", "eval": _eval_key(config), "cls": CLASSIFIER.full_key(config, name),
            "recnet": [RECNET.full_key(config, ks) for ks in kind_sets(kinds)],
            "ft": [FINETUNED.full_key(config, name, ks) for ks in kind_sets(kinds)]}


def _build_baselines(out: Path, config, *, device, progress) -> None:
    """Rows for ``config.classifier``: no recovery, RecNets, fine-tuned C (single: one network
    per type; multiple: one for all types)."""
    kinds, name = tuple(config.distortions), config.classifier
    at = {"device": device, "progress": progress}
    test = load_split(config, "test", ensure_data(config, **at))

    def run(recover, judges, method, quality=True):  # quality False: accuracy only (no SSIM to compute)
        raw = evaluate(test, config, kinds, "test", recover, judges, device, with_ssim=quality)
        return name_metrics(raw, "test", method, quality=quality)

    clean_c = CLASSIFIER.get(config, name, **at)
    metrics = {"test_acc_clean": accuracy(clean_c, as_float(test[0]), test[1], config.eval_batch, device)}
    one = {"": _const({"*": clean_c})}
    metrics |= run(_const({"*": None}), one, "distorted")
    recnets = {k: RECNET.get(config, (k,), **at) for k in kinds}
    metrics |= run(_const(recnets), one, "recnet_single")
    fts = {k: FINETUNED.get(config, name, (k,), **at) for k in kinds}
    metrics |= run(_const({"*": None}), {"": _const(fts)}, "finetuned_single", quality=False)
    if len(kinds) > 1:
        recnet = RECNET.get(config, kinds, **at)
        metrics |= run(_const({"*": recnet}), one, "recnet_multi")
        ft = FINETUNED.get(config, name, kinds, **at)
        metrics |= run(_const({"*": None}), {"": _const({"*": ft})}, "finetuned_multi", quality=False)
    _write_metrics(out, metrics)


BASELINES = Stage("qrnet-baselines", version=1, key=_baselines_key, build=_build_baselines, load=_load_metrics)


# ---------------------------------------------------------------- mqrnet: Fig. 6


def _mbaselines_key(config) -> dict:
    kinds, c1 = tuple(config.distortions), config.classifiers[0]
    return {"scheme": "mqrnet", "eval": _eval_key(config), "cls": [CLASSIFIER.full_key(config, n) for n in config.judges()],
            "recnet": RECNET.full_key(config, kinds), "one": ONE_CLASSIFIER.full_key(config, c1, config.baseline_lam)}


def _build_mbaselines(out: Path, config, *, device, progress) -> None:
    """The unseen classifier alone, after RecNet (multiple), after a QRNet trained against
    ``classifiers[0]`` alone; the training classifiers alongside."""
    kinds = tuple(config.distortions)
    tags = {**dict(zip(config.tags(), config.classifiers)), "unseen": config.unseen}
    at = {"device": device, "progress": progress}
    test = load_split(config, "test", ensure_data(config, **at))
    models = {t: CLASSIFIER.get(config, n, **at) for t, n in tags.items()}
    metrics = {f"test_acc_{t}_clean": accuracy(m, as_float(test[0]), test[1], config.eval_batch, device) for t, m in models.items()}
    judges = {t: _const({"*": m}) for t, m in models.items()}
    recnet = RECNET.get(config, kinds, **at)
    c1, lam = config.classifiers[0], config.baseline_lam
    one = ONE_CLASSIFIER.get(config, c1, lam, **at)
    for method, net in (("distorted", None), ("recnet_multi", recnet), ("qrnet_one", one)):
        metrics |= name_metrics(evaluate(test, config, kinds, "test", _const({"*": net}), judges, device), "test", method)
    _write_metrics(out, metrics)


MBASELINES = Stage("mqrnet-baselines", version=1, key=_mbaselines_key, build=_build_mbaselines, load=_load_metrics)
