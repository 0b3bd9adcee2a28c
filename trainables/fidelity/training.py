"""The trials of ``fidelity``: ``prepare`` builds the stages, ``train`` fits the §4.3 modules.

A trial builds the calibrated classifier from the cached restorer, estimator and setup-1
classifier, then trains only its modules (and, in ``end_to_end`` mode, the estimator from its
pretrained weights, §5.1.3) with cross-entropy and label smoothing on training crops at a σ drawn
from ``levels()`` per image (§5.1), NAG with warm-up and cosine decay. The map is the oracle's
(the restored vs the clean crop) or the estimator's. Each epoch reports validation and test
accuracy per condition; the launcher keeps the best epoch by the objective (§5.1: "the model
with the highest accuracy on the validation set").
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from trainables.contract import Progress, Report, Stages
from trainables.fidelity.config import ESTIMATORS, TORCHVISION, Config
from trainables.fidelity.data import as_float, conditions, load_split, mixed_noise
from trainables.fidelity.model import CalibratedClassifier, fidelity_map, normalise
from trainables.fidelity.recipe import batches, flip, lr_at, nag, set_lr
from trainables.fidelity.stages import (BASELINES, CLASSIFIER, ESTIMATOR, EVAL_SETS, FINETUNED, RESTORER, SETUPS,
                                        ensure_data, n_classes, restore)
from trainables.errors import UserInputError
from trainables.loop import Trainees, run_epochs
from trainables.models import check_weights


def build_model(config: Config) -> CalibratedClassifier:
    """The registered model: degraded images → logits, its restorer and estimator inside (an
    oracle-trained model also serves with the estimator: no clean image exists at inference).
    The modules' initial weights come from ``config.seed`` alone, not from whatever a reused
    Ray worker drew before; the global generator is left as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        return CalibratedClassifier(config, n_classes(config))


def prepare(config: Config, device: torch.device, progress: Progress | None = None) -> Stages:
    """Build (or find) the classifier, the restorer, setups 2 and 3, the estimator for the
    trial's measure, the evaluation images and the baseline metrics."""
    at = {"device": device, "progress": progress}
    if config.classifier in TORCHVISION:  # before the data stage's long build
        try:
            check_weights(config.classifier, config.cls_weights)
        except UserInputError as err:
            if config.cls_weights:
                raise
            raise UserInputError(f"{str(err).split(', or pass weights_path=')[0]}, or set cls_weights "
                                 "(--set fixed.cls_weights=FILE)") from None
    folder = ensure_data(config, **at)  # a missing dataset root fails before anything is built
    measure = config.method().measure
    stages = {} if folder is None else {"data": folder}
    stages |= {"classifier": CLASSIFIER.ensure(config, **at), "restorer": RESTORER.ensure(config, **at)}
    stages |= {f"setup_{s}": FINETUNED.ensure(config, s, **at) for s in SETUPS}
    stages["estimator"] = ESTIMATOR.ensure(config, measure, **at)
    stages |= {f"eval_{split}": EVAL_SETS.ensure(config, split, measure, **at) for split in ("val", "test")}
    stages["baselines"] = BASELINES.ensure(config, **at)
    return stages


def evaluate(model: CalibratedClassifier, sets: dict[str, torch.Tensor], clean: torch.Tensor, labels: torch.Tensor,
             config: Config, split: str, oracle: bool, device: torch.device) -> dict[str, float]:
    """``{split}_acc_<condition>``, ``{split}_acc_avg`` (clean and every σ) and ``{split}_loss``.
    The map: the oracle's, the stored pretrained one, or (end-to-end) the estimator's as trained."""
    model.eval()
    out, losses = {}, []
    end_to_end = any(p.requires_grad for p in model.estimator.parameters())
    with torch.no_grad():
        for cond in conditions(config):
            hits = 0
            for i in range(0, len(labels), config.eval_batch):
                rows = slice(i, i + config.eval_batch)
                degraded = sets[f"degraded_{cond}"][rows].float().div(255).to(device)
                restored = sets[f"restored_{cond}"][rows].float().div(255).to(device)
                if oracle:
                    fmap = fidelity_map(restored, as_float(clean[rows]).to(device), model.measure)
                elif end_to_end:
                    fmap = model.estimator(degraded)
                else:
                    fmap = sets[f"map_{cond}"][rows].float().to(device)
                logits = model.classify(restored, normalise(fmap, model.measure, model.levels))
                y = labels[rows].to(device)
                hits += int((logits.argmax(1) == y).sum())
                losses.append(F.cross_entropy(logits, y, reduction="sum").item())
            out[f"{split}_acc_{cond}"] = hits / len(labels)
    out[f"{split}_acc_avg"] = float(np.mean([out[f"{split}_acc_{c}"] for c in conditions(config) if not c.startswith("ramp")]))
    out[f"{split}_loss"] = sum(losses) / (len(labels) * len(conditions(config)))
    return out


def train(config: Config, stages: Stages, device: torch.device, resume: dict | None, report: Report) -> None:
    method = config.method()
    oracle, end_to_end = method.estimator == "oracle", method.estimator == "end_to_end"
    model = build_model(config)
    model.restorer.load_state_dict(RESTORER.load(stages["restorer"], config, device=device).state_dict())
    model.estimator.load_state_dict(ESTIMATOR.load(stages["estimator"], config, method.measure, device=device).state_dict())
    model.classifier.load_state_dict(CLASSIFIER.load(stages["classifier"], config, device=device).state_dict())
    model = model.to(device).freeze(train_estimator=end_to_end)
    baselines = BASELINES.load(stages["baselines"], config, device=device)
    data = stages.get("data")
    x, y = load_split(config, "train", data)
    evals = {split: (EVAL_SETS.load(stages[f"eval_{split}"], config, device=device), *load_split(config, split, data))
             for split in ("val", "test")}
    # With every map-reading module switched off (a point a search may draw) nothing is trained:
    # the trial measures the frozen classifier on restored images, setup 1 with restoration.
    groups = [{"params": [p for p in model.calibration.parameters()], "scale": 1.0},
              {"params": [p for p in model.estimator.parameters() if p.requires_grad], "scale": config.estimator_lr / config.lr}]
    groups = [g for g in groups if g["params"]]
    trained = [p for g in groups for p in g["params"]]
    optimizers = {"nag": nag(groups, config.lr, config.momentum)} if groups else {}
    gen = torch.Generator().manual_seed(config.seed + 11)  # batches, flips and noise
    trainees = Trainees(nets={"model": model}, model="model", optimizers=optimizers, generators={"batches": gen})
    per_epoch = math.ceil(len(y) / config.batch_size)
    flags = {"method_estimator": float(ESTIMATORS.index(method.estimator)), "method_ensemble": float(method.ensemble)}

    def one_epoch(epoch: int) -> dict[str, float]:
        model.train()
        total, norms = 0.0, []
        for i, idx in enumerate(batches(len(y), config.batch_size, gen)):
            clean = flip(as_float(x[idx]), gen).to(device)
            degraded = mixed_noise(clean, config, gen)
            restored = restore(model.restorer, degraded)
            fmap = model.fidelity(degraded, restored, clean if oracle else None)
            loss = F.cross_entropy(model.classify(restored, fmap), y[idx].to(device), label_smoothing=config.label_smoothing)
            if optimizers and loss.requires_grad:
                opt = optimizers["nag"]
                set_lr(opt, lr_at(epoch * per_epoch + i, per_epoch, config.epochs, config.warmup_epochs, config.lr))
                opt.zero_grad()
                loss.backward()
                norm = torch.nn.utils.clip_grad_norm_(trained, config.grad_clip or math.inf)
                norms.append(float(norm))
                opt.step()
            total += loss.item() / per_epoch
        # the largest pre-clip gradient norm of the epoch: where a diverging trial shows first
        metrics = {"train_loss": total, "train_grad_norm_max": max(norms, default=0.0), **flags}
        for split, (sets, clean_x, labels) in evals.items():
            metrics |= evaluate(model, sets, clean_x, labels, config, split, oracle, device)
        return metrics | baselines

    run_epochs(config.epochs, trainees, one_epoch, report, resume)
