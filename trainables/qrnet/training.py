"""The trials of ``qrnet`` and ``mqrnet``: ``prepare`` builds the stages, ``train`` runs Algorithm 1.

A trial starts QRNet from the pretrained stage, then every batch is ``batch_size / 2`` clean
images plus the same images under one random distortion (type from ``distortions``, level from
``noise_levels`` / ``blur_levels``), targets the clean images twice. Adam; early stopping when
the validation loss (the same weighted sum on the fixed distorted validation images) has not
improved for ``patience`` epochs. No best-weight restore: each epoch reports its own metrics and
checkpoint (the launcher keeps the best by the objective). ``classifier_mode: end_to_end``
(qrnet only) fine-tunes the classifier's last fully connected layer(s) together with QRNet
(§III-B; VGG16: its three FC layers); its other weights and BN statistics stay fixed, and it is
evaluated as trained.
"""

from __future__ import annotations

import torch
from torch import nn

from trainables.contract import Progress, Report, Stages
from trainables.loop import EarlyStopping, Trainees, run_epochs
from trainables.models import QRNet
from trainables.qrnet.algorithm import build_qrnet, evaluate, name_metrics, train_one_epoch, validation_loss
from trainables.qrnet.baselines import BASELINES, MBASELINES
from trainables.qrnet.classifiers import head_of
from trainables.qrnet.config import Config, MConfig, _Shared
from trainables.qrnet.data import load_split
from trainables.qrnet.stages import CLASSIFIER, FINETUNED, ONE_CLASSIFIER, PRETRAIN, RECNET, ensure_data, kind_sets, set_tag


def build_model(config: _Shared) -> QRNet:
    """The registered model: a QRNet at the trial's dropout (inactive in eval mode)."""
    return build_qrnet(config, config.dropout)


# ---------------------------------------------------------------- prepare


def _data_stage(config: _Shared, device: torch.device, progress: Progress | None) -> Stages:
    folder = ensure_data(config, device=device, progress=progress)
    return {} if folder is None else {"data": folder}


def prepare(config: Config, device: torch.device, progress: Progress | None = None) -> Stages:
    """Build (or find) the clean classifier, pretrained QRNet, RecNets, fine-tuned classifiers
    and the baseline metrics."""
    at = {"device": device, "progress": progress}
    stages = _data_stage(config, device, progress)  # first: a missing dataset root is the first error
    stages |= {"classifier": CLASSIFIER.ensure(config, config.classifier, **at), "pretrain": PRETRAIN.ensure(config, **at)}
    for ks in kind_sets(tuple(config.distortions)):
        stages[f"recnet_{set_tag(ks)}"] = RECNET.ensure(config, ks, **at)
        stages[f"finetuned_{set_tag(ks)}"] = FINETUNED.ensure(config, config.classifier, ks, **at)
    stages["baselines"] = BASELINES.ensure(config, **at)
    return stages


def mprepare(config: MConfig, device: torch.device, progress: Progress | None = None) -> Stages:
    """Build (or find) the clean classifiers, pretrained QRNet, RecNet (multiple), the
    one-classifier QRNet and the baseline metrics."""
    at = {"device": device, "progress": progress}
    stages = _data_stage(config, device, progress)
    stages |= {f"classifier_{n}": CLASSIFIER.ensure(config, n, **at) for n in config.judges()}
    stages["pretrain"] = PRETRAIN.ensure(config, **at)
    stages["recnet_multi"] = RECNET.ensure(config, tuple(config.distortions), **at)
    stages["qrnet_one"] = ONE_CLASSIFIER.ensure(config, config.classifiers[0], config.baseline_lam, **at)
    stages["baselines"] = MBASELINES.ensure(config, **at)
    return stages


# ---------------------------------------------------------------- train


def _train(config: _Shared, stages: Stages, device: torch.device, resume: dict | None, report: Report, *,
           judges: list[nn.Module], lams: list[float], tags: list[str], others: dict[str, nn.Module],
           heads: dict[str, nn.Module], baselines: dict[str, float], names: dict[str, str]) -> None:
    """Algorithm 1 from the pretrained QRNet, reporting val/test metrics after each epoch.

    ``judges`` (tagged ``tags``) are trained against with weights ``lams``; ``others`` are only
    evaluated; ``heads`` are trained with QRNet (end-to-end); ``names`` maps tags to metric tags.
    """
    kinds = tuple(config.distortions)
    data = stages.get("data")  # None: embedded-digits has no data stage
    train_set, val, test = (load_split(config, s, data) for s in ("train", "val", "test"))
    model = PRETRAIN.load(stages["pretrain"], config, device=device, dropout=config.dropout)
    opt = torch.optim.Adam([*model.parameters(), *(p for h in heads.values() for p in h.parameters())], lr=config.lr)
    gen = torch.Generator().manual_seed(config.seed + 1)  # batches and distortions
    torch.manual_seed(config.seed)  # dropout
    trainees = Trainees(nets={"qrnet": model, **heads}, model="qrnet", optimizers={"adam": opt}, generators={"batches": gen})
    evaluated = {t: (lambda k, c=c: c) for t, c in [*zip(tags, judges), *others.items()]}

    def one_epoch(epoch: int) -> dict[str, float]:
        metrics = train_one_epoch(model, opt, judges, lams, train_set, config, kinds, gen, device)
        val_raw = evaluate(val, config, kinds, "val", lambda k: model, evaluated, device, with_ssim=False)
        test_raw = evaluate(test, config, kinds, "test", lambda k: model, evaluated, device)
        metrics |= name_metrics(val_raw, "val", tags=names) | name_metrics(test_raw, "test", tags=names)
        return metrics | {"val_loss": validation_loss(val_raw, tags, lams), "end_to_end": float(bool(heads))} | baselines

    run_epochs(config.epochs, trainees, one_epoch, report, resume, EarlyStopping(monitor="val_loss", patience=config.patience))


def train(config: Config, stages: Stages, device: torch.device, resume: dict | None, report: Report) -> None:
    """qrnet: one classifier, frozen or with its FC head(s) trained end-to-end."""
    baselines = BASELINES.load(stages["baselines"], config, device=device)
    judge = CLASSIFIER.load(stages["classifier"], config, config.classifier, device=device)
    heads = {}
    if config.classifier_mode == "end_to_end":  # its other weights stay frozen
        heads = {"classifier_head": head_of(judge, config.classifier).requires_grad_(True)}
    _train(config, stages, device, resume, report, judges=[judge], lams=[config.lam], tags=["c"], others={},
           heads=heads, baselines=baselines, names={"c": ""})


def mtrain(config: MConfig, stages: Stages, device: torch.device, resume: dict | None, report: Report) -> None:
    """mqrnet: the training classifiers frozen, the unseen one evaluated only."""
    baselines = MBASELINES.load(stages["baselines"], config, device=device)
    judges = [CLASSIFIER.load(stages[f"classifier_{n}"], config, n, device=device) for n in config.classifiers]
    unseen = {"unseen": CLASSIFIER.load(stages[f"classifier_{config.unseen}"], config, config.unseen, device=device)}
    tags = config.tags()
    _train(config, stages, device, resume, report, judges=judges, lams=list(config.lams), tags=tags, others=unseen,
           heads={}, baselines=baselines, names={t: t for t in [*tags, "unseen"]})
