"""The cached upstream stages of ``fidelity`` (seed 004), each declared once as a ``Stage``.

- ``DATA`` (``fidelity-data``): Caltech-256 squashed and split; the embedded set needs none.
- ``CLASSIFIER`` (``fidelity-cls``): setup 1, a classifier trained on clean images. The method
  keeps it frozen.
- ``RESTORER`` (``fidelity-restorer``): DnCNN trained with ℓ1 on images at a σ drawn from
  ``levels()`` (§3.2.1; the paper's 50×50 patches are whole 32² crops here).
- ``FINETUNED`` (``fidelity-ft-degraded`` / ``-restored``): setup 1 fine-tuned on the σ mixture
  (setup 2), or on the mixture restored by the restorer (setup 3).
- ``ESTIMATOR`` (``fidelity-estimator-<measure>``): DnCNN predicting the fidelity map of the
  restorer's output from the degraded image (§5.1), ℓ1 loss.
- ``EVAL_SETS`` (``fidelity-eval-<split>``): every condition of the validation or test split,
  degraded once (8-bit), restored, and the pretrained estimator's map: trials only classify.
- ``BASELINES`` (``fidelity-baselines``): setups 1–3 with and without restoration on the test
  split (Table 5.1's upper half), ``metrics.json``.

Keys hold what a stage's output depends on and nothing else a sweep searches (no module switch,
estimator mode, lr, warm-up or label smoothing of the method), so every trial shares them. The
one searched field in keys is the measure: the estimator and the evaluation images' maps depend
on it, and the baselines read those evaluation images (their values do not depend on it).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from trainables.contract import Progress
from trainables.fidelity.data import (as_float, caltech_arrays, conditions, data_key, eval_sets, load_split,
                                      mixed_noise)
from trainables.fidelity.config import TORCHVISION
from trainables.fidelity.model import build_classifier, fidelity_map
from trainables.fidelity.recipe import accuracy, fit, flip, nag
from trainables.models import DnCNN, check_weights
from trainables.stages import Stage

SETUPS = ("degraded", "restored")  # setups 2 and 3


# ---------------------------------------------------------------- data (Caltech-256 only)


def _data_key(config) -> dict:
    key = data_key(config)
    del key["train_images"], key["eval_images"]  # caps apply after the stage
    return key


def _check_root(config) -> None:
    from trainables.data.classification import CALTECH256_LAYOUT
    from trainables.data.image_files import require_dir

    require_dir(Path(config.data_root).expanduser() / "caltech256" / "256_ObjectCategories", CALTECH256_LAYOUT)


DATA = Stage("fidelity-data", version=1, key=_data_key, check=_check_root,
             build=lambda out, config, *, device, progress: np.savez(out / "data.npz", **caltech_arrays(config, progress)),
             load=lambda folder, config, *, device: folder)


def ensure_data(config, *, device: torch.device, progress: Progress | None = None) -> Path | None:
    """The data stage's folder, built if missing; None for the embedded set (no stage)."""
    return None if config.dataset == "embedded-photo-crops" else DATA.ensure(config, device=device, progress=progress)


def n_classes(config) -> int:
    return 20 if config.dataset == "embedded-photo-crops" else 257


def _split(config, split: str, device, progress) -> tuple[torch.Tensor, torch.Tensor]:
    return load_split(config, split, ensure_data(config, device=device, progress=progress))


def _fixed_mix(config, x: torch.Tensor) -> torch.Tensor:
    """Validation images at σ drawn from ``levels()`` once (the same every epoch and stage)."""
    return mixed_noise(as_float(x), config, torch.Generator().manual_seed(config.seed + 101))


def _recipe_key(config) -> dict:
    return {"batch": config.batch_size, "momentum": config.momentum}


# ---------------------------------------------------------------- setup 1: the classifier on clean images


def _classifier_key(config) -> dict:
    start = {"weights": str(check_weights(config.classifier, config.cls_weights))} if config.classifier in TORCHVISION else {}
    return {"data": data_key(config), "family": config.classifier, "width": config.cls_width, "epochs": config.cls_epochs,
            "lr": config.cls_lr, **start, **_recipe_key(config)}


def _fit_classifier(config, model: nn.Module, train, make, val: tuple[torch.Tensor, torch.Tensor], epochs: int,
                    seed: int, device, progress, label: str) -> None:
    """NAG, warm-up + cosine, label smoothing 0.1, best validation accuracy kept (§3.1).
    ``make(clean, gen)``: a training batch's inputs from its (flipped) clean crops; ``val``:
    the validation inputs, ready, and their labels."""
    x, y = train
    gen = torch.Generator().manual_seed(seed)

    def step_loss(idx):
        images = make(flip(as_float(x[idx]), gen).to(device), gen)
        return F.cross_entropy(model(images), y[idx].to(device), label_smoothing=0.1)

    fit(model, nag(model.parameters(), config.cls_lr, config.momentum), n=len(y), batch_size=config.batch_size,
        epochs=epochs, warmup_epochs=min(1.0, epochs / 2), lr=config.cls_lr, step_loss=step_loss,
        score=lambda: accuracy(model, *val, config.eval_batch, device), generator=gen, progress=progress, label=label)


def _build_classifier(out: Path, config, *, device, progress) -> None:
    torch.manual_seed(config.seed)
    # torchvision families start from ImageNet weights (§3.1 fine-tunes them); small ones from scratch
    model = build_classifier(config.classifier, n_classes(config), config.cls_width, weights=config.cls_weights,
                             pretrained=config.classifier in TORCHVISION).to(device)
    train, val = _split(config, "train", device, progress), _split(config, "val", device, progress)
    _fit_classifier(config, model, train, lambda clean, gen: clean, (as_float(val[0]), val[1]), config.cls_epochs,
                    config.seed, device, progress, "setup 1 classifier (clean)")
    torch.save(model.state_dict(), out / "classifier.pt")


def load_classifier(folder: Path, config, *_args, device) -> nn.Module:
    model = build_classifier(config.classifier, n_classes(config), config.cls_width)
    model.load_state_dict(torch.load(folder / "classifier.pt", map_location="cpu", weights_only=True))
    return model.to(device).eval().requires_grad_(False)


CLASSIFIER = Stage("fidelity-cls", version=1, key=_classifier_key, build=_build_classifier, load=load_classifier)


# ---------------------------------------------------------------- the restorer


def _dncnn_key(config) -> dict:
    return {"data": data_key(config), "depth": config.dncnn_depth, "width": config.dncnn_width,
            "epochs": config.dncnn_epochs, "lr": config.dncnn_lr, "levels": config.levels(), "batch": config.batch_size}


def _fit_dncnn(config, net: nn.Module, target, seed: int, device, progress, label: str) -> None:
    """Adam on the ℓ1 between ``net(degraded)`` and ``target(degraded, clean)``, warm-up + cosine."""
    (x, _), (xv, _) = _split(config, "train", device, progress), _split(config, "val", device, progress)
    val_clean = as_float(xv).to(device)
    val_in = _fixed_mix(config, xv).to(device)
    gen = torch.Generator().manual_seed(seed)

    def step_loss(idx):
        clean = flip(as_float(x[idx]), gen).to(device)
        noisy = mixed_noise(clean, config, gen)
        return F.l1_loss(net(noisy), target(noisy, clean))

    def score():
        return -sum(F.l1_loss(net(val_in[i:i + config.eval_batch]), target(val_in[i:i + config.eval_batch],
                                                                            val_clean[i:i + config.eval_batch]),
                              reduction="sum").item() for i in range(0, len(xv), config.eval_batch)) / val_in.numel()

    fit(net, torch.optim.Adam(net.parameters(), lr=config.dncnn_lr), n=len(x), batch_size=config.batch_size,
        epochs=config.dncnn_epochs, warmup_epochs=min(1.0, config.dncnn_epochs / 2), lr=config.dncnn_lr,
        step_loss=step_loss, score=score, generator=gen, progress=progress, label=label)


def _build_restorer(out: Path, config, *, device, progress) -> None:
    torch.manual_seed(config.seed + 1)
    net = DnCNN(config.dncnn_depth, config.dncnn_width).to(device)
    _fit_dncnn(config, net, lambda noisy, clean: clean, config.seed + 1, device, progress, "restorer (DnCNN, ℓ1)")
    torch.save(net.state_dict(), out / "restorer.pt")


def load_restorer(folder: Path, config, *_args, device) -> nn.Module:
    net = DnCNN(config.dncnn_depth, config.dncnn_width)
    net.load_state_dict(torch.load(folder / "restorer.pt", map_location="cpu", weights_only=True))
    return net.to(device).eval().requires_grad_(False)


RESTORER = Stage("fidelity-restorer", version=1, key=_dncnn_key, build=_build_restorer, load=load_restorer)


def restore(restorer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return restorer(x).clamp(0, 1)


# ---------------------------------------------------------------- setups 2 and 3: fine-tuned classifiers


def _finetuned_key(config, setup: str) -> dict:
    return {"cls": CLASSIFIER.full_key(config), "setup": setup, "epochs": config.finetune_epochs, "levels": config.levels(),
            **({"restorer": RESTORER.full_key(config)} if setup == "restored" else {})}


def _build_finetuned(out: Path, config, setup: str, *, device, progress) -> None:
    model = CLASSIFIER.get(config, device=device, progress=progress).requires_grad_(True)
    restorer = RESTORER.get(config, device=device, progress=progress) if setup == "restored" else None
    train, val = _split(config, "train", device, progress), _split(config, "val", device, progress)
    val_images = _fixed_mix(config, val[0])

    def make(clean, gen):
        noisy = mixed_noise(clean, config, gen)
        return noisy if restorer is None else restore(restorer, noisy)

    if restorer is not None:
        val_images = torch.cat([restore(restorer, val_images[i:i + config.eval_batch].to(device)).cpu()
                                for i in range(0, len(val_images), config.eval_batch)])
    _fit_classifier(config, model, train, make, (val_images, val[1]), config.finetune_epochs, config.seed + 2, device,
                    progress, f"setup {2 if setup == 'degraded' else 3} classifier ({setup})")
    torch.save(model.state_dict(), out / "classifier.pt")


FINETUNED = Stage("fidelity-ft", version=1, key=_finetuned_key, build=_build_finetuned, load=load_classifier,
                  tag=lambda setup: setup)


# ---------------------------------------------------------------- the fidelity-map estimator


def _estimator_key(config, measure: str) -> dict:
    return {"restorer": RESTORER.full_key(config), "measure": measure, **_dncnn_key(config)}


def _build_estimator(out: Path, config, measure: str, *, device, progress) -> None:
    restorer = RESTORER.get(config, device=device, progress=progress)
    torch.manual_seed(config.seed + 3)
    net = DnCNN(config.dncnn_depth, config.dncnn_width, residual=False, out_channels=1).to(device)
    _fit_dncnn(config, net, lambda noisy, clean: fidelity_map(restore(restorer, noisy), clean, measure), config.seed + 3,
               device, progress, f"fidelity-map estimator ({measure})")
    torch.save(net.state_dict(), out / "estimator.pt")


def load_estimator(folder: Path, config, *_args, device) -> nn.Module:
    net = DnCNN(config.dncnn_depth, config.dncnn_width, residual=False, out_channels=1)
    net.load_state_dict(torch.load(folder / "estimator.pt", map_location="cpu", weights_only=True))
    return net.to(device).eval().requires_grad_(False)


ESTIMATOR = Stage("fidelity-estimator", version=1, key=_estimator_key, build=_build_estimator, load=load_estimator,
                  tag=lambda measure: measure)


# ---------------------------------------------------------------- the evaluation images


def _eval_key(config, split: str, measure: str) -> dict:
    return {"data": data_key(config), "split": split, "conditions": conditions(config), "eval_batch": config.eval_batch,
            "estimator": ESTIMATOR.full_key(config, measure)}


def _build_eval(out: Path, config, split: str, measure: str, *, device, progress) -> None:
    """``eval.npz``: per condition ``degraded_<c>`` (uint8), ``restored_<c>`` (uint8) and the
    pretrained estimator's raw map ``map_<c>`` (float16)."""
    restorer = RESTORER.get(config, device=device, progress=progress)
    estimator = ESTIMATOR.get(config, measure, device=device, progress=progress)
    x, _ = _split(config, split, device, progress)
    parts: dict[str, list] = {}
    with torch.no_grad():
        for cond, _clean, degraded, _rows in eval_sets(x, config, split, device):
            restored = restore(restorer, degraded)
            for name, value in (("degraded", degraded), ("restored", restored)):
                parts.setdefault(f"{name}_{cond}", []).append(value.mul(255).round().byte().cpu())
            parts.setdefault(f"map_{cond}", []).append(estimator(degraded).half().cpu())
    np.savez(out / "eval.npz", **{k: torch.cat(v).numpy() for k, v in parts.items()})


def load_eval(folder: Path, config, *_args, device) -> dict[str, torch.Tensor]:
    with np.load(folder / "eval.npz") as f:
        return {k: torch.from_numpy(f[k]) for k in f.files}


EVAL_SETS = Stage("fidelity-eval", version=1, key=_eval_key, build=_build_eval, load=load_eval,
                  tag=lambda split, measure: f"{split}-{measure}")


# ---------------------------------------------------------------- setups 1-3 on the test split


def _baselines_key(config) -> dict:
    return {"eval": EVAL_SETS.full_key(config, "test", config.method().measure),
            "classifiers": [CLASSIFIER.full_key(config), *(FINETUNED.full_key(config, s) for s in SETUPS)]}


def setup_metrics(classifier: nn.Module, sets: dict[str, torch.Tensor], labels: torch.Tensor, config, tag: str,
                  device) -> dict[str, float]:
    """``test_acc_<tag>[_restored]_<condition>`` and the ``_avg`` over clean and every σ."""
    out = {}
    for restored in (False, True):
        stem = f"test_acc_{tag}" + ("_restored" if restored else "")
        for cond in conditions(config):
            images = sets[f"{'restored' if restored else 'degraded'}_{cond}"].float().div(255)
            out[f"{stem}_{cond}"] = accuracy(classifier, images, labels, config.eval_batch, device)
        out[f"{stem}_avg"] = float(np.mean([out[f"{stem}_{c}"] for c in conditions(config) if not c.startswith("ramp")]))
    return out


def _build_baselines(out: Path, config, *, device, progress) -> None:
    at = {"device": device, "progress": progress}
    sets = EVAL_SETS.get(config, "test", config.method().measure, **at)
    _, labels = _split(config, "test", device, progress)
    metrics = setup_metrics(CLASSIFIER.get(config, **at), sets, labels, config, "setup1", device)
    for n, setup in ((2, "degraded"), (3, "restored")):
        metrics |= setup_metrics(FINETUNED.get(config, setup, **at), sets, labels, config, f"setup{n}", device)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1))


BASELINES = Stage("fidelity-baselines", version=1, key=_baselines_key, build=_build_baselines,
                  load=lambda folder, config, *, device: json.loads((folder / "metrics.json").read_text()))
