"""QRNet and MQRNet (seed 003): a U-Net that recovers distorted images for classifiers.

    qrnet:   L = L1(x*, Q(x)) + λ·CE(C(Q(x)), t)                       (Eq. 4)
    mqrnet:  L = L1(x*, Q(x)) + Σ_i λ_i·CE(C_i(Q(x)), t)                (Eq. 5: two classifiers)

Both go through ``qrnet_stages.coupled_loss``, the one weighted sum. Training is Algorithm 1:
QRNet starts from the clean-pretrained stage, then every batch is ``batch_size / 2`` clean
images plus the same images under one random distortion (type from ``distortions``, level
from ``noise_levels`` / ``blur_levels``), targets the clean images twice. Adam; early stopping
when the validation loss (the same weighted sum on the fixed distorted validation images) has
not improved for ``patience`` epochs: that epoch's report carries ``stopped_early: 1.0``.
No best-weight restore: each epoch reports its own metrics and checkpoint (the launcher keeps
the best by the objective). ``classifier_mode: end_to_end`` (qrnet only) fine-tunes the
classifier's last fully connected layer(s) together with QRNet (§III-B; VGG16: its three FC
layers); its other weights and BN statistics stay fixed, and it is evaluated as trained.

Data: ``embedded-digits`` (built in) or ``caltech101`` from ``data_root``. Validation and test
images are distorted once per (split, type, level) with a fixed seed, so every method and every
epoch sees the same images. mqrnet is judged on ``unseen``, a clean-trained classifier of a
family not in ``classifiers`` (§III-C: trained with VGG16 + Inception v3, judged on ResNet).
Its ``val_acc_unseen_avg`` objective does use the unseen classifier on validation images to
pick hyperparameters (never on test); ``val_acc_c1_avg``, ``val_acc_c2_avg``, ... are the strict choice.

Metric names (flat floats)::

    {split}_{metric}[_{classifier}][_{method}]_{where}

- split: ``val`` or ``test``; metric: ``acc``, ``psnr``, ``ssim`` (recovered vs clean images;
  ``ssim`` on test only).
- classifier (mqrnet only): ``c1``, ``c2``, ... (the training classifiers, in ``classifiers``
  order) or ``unseen``; qrnet names have none (its one classifier).
- method: none for this trial's network; baselines (test only, constant across trials):
  ``distorted`` (no recovery, clean-trained classifier), ``recnet_single`` / ``recnet_multi``
  (L1-only QRNet trained on one type / both types), ``finetuned_single`` /
  ``finetuned_multi`` (classifier fine-tuned on distorted images; acc only), ``qrnet_one``
  (mqrnet: QRNet trained against ``classifiers[0]`` alone at ``baseline_lam``).
- where: ``{type}_{level}`` (``noise_20``, ``blur_2``), ``{type}_avg`` (mean over levels) or
  ``avg`` (mean over every type×level).

Also: ``test_acc[_{classifier}]_clean`` (classifier on undistorted test images), ``val_loss``,
``train_loss``, ``train_l1``, ``train_ce1`` (``train_ce2``, ...), ``epoch``, ``stopped_early``,
``end_to_end`` (1.0 in end-to-end mode). Objectives: ``val_acc_avg`` (qrnet),
``val_acc_unseen_avg`` (mqrnet), ``val_psnr_avg``.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from trainables import qrnet_stages as st
from trainables.contract import Report, Scheme, SchemeConfig
from trainables.errors import UserInputError
from trainables.models import QRNet


@dataclass
class _Shared(SchemeConfig):
    # data: "embedded-digits" (10 classes, 1,078/269/450 images of 32 px) or "caltech101" (data_root)
    dataset: str = "embedded-digits"
    data_root: str | None = None  # the folder holding caltech101/101_ObjectCategories/
    image_size: int = 32  # digits are upsampled to it, Caltech images squashed to it
    train_images: int | None = None  # cap on training images (evenly spaced); None: all
    eval_images: int | None = None  # cap on validation and test images
    # distortions (§IV-A): AWGN σ in 0–255 units; Gaussian blur σ, kernel 4σ − 1
    distortions: tuple[str, ...] = ("noise", "blur")
    noise_levels: tuple[float, ...] = (20.0, 40.0, 60.0, 80.0, 100.0)  # the paper's
    # paper (2, 4, 6, 8, 10) on ~224 px Caltech images; on 32 px digits σ ≥ 6 leaves every
    # classifier at chance, so the default scales the levels to the image size
    blur_levels: tuple[float, ...] = (1.0, 2.0, 3.0, 4.0, 5.0)
    # the trial: QRNet fine-tuned from the pretrained stage (searched: λ's, lr, dropout)
    lr: float = 1e-3  # Adam (paper: 1e-3)
    dropout: float = 0.2  # paper: 0.2
    epochs: int = 3  # paper: at most 200, early-stopped
    patience: int = 5  # paper: 5 epochs without a better validation loss
    batch_size: int = 32  # half clean, half distorted (paper: 32)
    qrnet_base: int = 16  # channels of the first level (paper: 64)
    qrnet_depth: int = 3  # pooling steps (paper: 4)
    qrnet_small: bool = False  # one conv per level (Table 3's "small QRNet")
    # cached stages (not searched): pretraining, RecNets, clean and fine-tuned classifiers
    pretrain_epochs: int = 3  # QRNet on clean images, L1
    stage_epochs: int = 3  # RecNets / the one-classifier QRNet (as long as a trial), early-stopped
    stage_patience: int = 5
    stage_lr: float = 1e-3
    stage_dropout: float = 0.2
    cls_width: int = 16  # width of the small classifier families
    cls_epochs: int = 15  # clean classifier training (torchvision: FC head re-fit)
    cls_lr: float = 1e-3
    finetune_epochs: int = 5  # fine-tuned classifier baselines
    pretrained_backbones: bool = True  # torchvision classifiers start from ImageNet weights
    weights_dir: str | None = None  # folder of torchvision weight files; None: $TORCH_HOME/hub/checkpoints
    eval_batch: int = 256
    seed: int = 0

    def judges(self) -> tuple[str, ...]:
        """Every classifier the scheme trains or evaluates with."""
        raise NotImplementedError

    def __post_init__(self):
        if self.dataset not in st.DATASETS:
            raise UserInputError(f"dataset must be one of {', '.join(st.DATASETS)}; got {self.dataset!r}")
        if self.dataset != "embedded-digits" and not self.data_root:
            raise UserInputError(f"dataset {self.dataset!r} needs data_root (the folder holding {self.dataset}/)")
        if not self.distortions or len(set(self.distortions)) != len(self.distortions) or set(self.distortions) - set(st.KINDS):
            raise UserInputError(f"distortions must be distinct names from {', '.join(st.KINDS)}; got {list(self.distortions)}")
        for kind in self.distortions:
            levels = st.levels_of(self, kind)
            if not levels or min(levels) <= 0:
                raise UserInputError(f"{kind}_levels must be a non-empty list of positive numbers; got {list(levels)}")
        if "blur" in self.distortions and st.blur_kernel_size(max(self.blur_levels)) // 2 >= self.image_size:
            raise UserInputError(f"blur σ {max(self.blur_levels):g} needs images larger than image_size {self.image_size}")
        if self.batch_size < 2 or self.batch_size % 2:
            raise UserInputError(f"batch_size must be even (half clean, half distorted); got {self.batch_size}")
        for name in self.judges():
            if name not in st.CLASSIFIERS:
                raise UserInputError(f"unknown classifier {name!r} (known: {', '.join(st.CLASSIFIERS)})")
        if "inception_v3" in self.judges() and self.image_size < 75:
            raise UserInputError(f"inception_v3 needs image_size >= 75; got {self.image_size}")


@dataclass
class Config(_Shared):
    lam: float = 0.01  # λ of Eq. 4 (paper: 0.01; {0.1, 0.01, 0.001} "gave similar results")
    classifier: str = "small_vgg"  # the judge C (paper: VGG16); small_* or vgg16/resnet50/inception_v3
    classifier_mode: str = "frozen"  # or "end_to_end": C's last FC layer(s) trained with QRNet

    def judges(self) -> tuple[str, ...]:
        return (self.classifier,)

    def __post_init__(self):
        super().__post_init__()
        if self.classifier_mode not in ("frozen", "end_to_end"):
            raise UserInputError(f"classifier_mode must be 'frozen' or 'end_to_end'; got {self.classifier_mode!r}")


@dataclass
class MConfig(_Shared):
    SCHEME_NAME: ClassVar[str] = "mqrnet"
    # λ_i of Eq. 5, one per training classifier (paper: 0.01 each, for VGG16 and Inception v3);
    # a search space searches them as lams.0, lams.1, ...
    lams: tuple[float, ...] = (0.01, 0.01)
    classifiers: tuple[str, ...] = ("small_vgg", "small_inception")  # trained against, two or more
    unseen: str = "small_resnet"  # judged on, never trained against (paper: ResNet)
    baseline_lam: float = 0.01  # λ of the cached one-classifier QRNet baseline (not searched)

    def judges(self) -> tuple[str, ...]:
        return (*self.classifiers, self.unseen)

    def __post_init__(self):
        if len(self.classifiers) < 2:
            raise UserInputError(f"mqrnet trains against two or more classifiers; got {list(self.classifiers)} (one is the qrnet scheme)")
        if len(self.lams) != len(self.classifiers):
            raise UserInputError(f"mqrnet has one weight per classifier: lams {list(self.lams)} for classifiers {list(self.classifiers)}")
        if min(self.lams) < 0:
            raise UserInputError(f"lams must not be negative; got {list(self.lams)}")
        if len(set(self.classifiers)) != len(self.classifiers):
            raise UserInputError(f"classifiers must be distinct; got {list(self.classifiers)}")
        if self.unseen in self.classifiers:
            raise UserInputError(f"the unseen classifier {self.unseen!r} must not be one of the training classifiers {list(self.classifiers)}")
        super().__post_init__()


# Tiny overrides for the shared contract tests and smoke sweeps (seconds on a CPU).
SMOKE = {"train_images": 64, "eval_images": 40, "noise_levels": (20.0, 60.0), "blur_levels": (1.0, 3.0),
         "epochs": 2, "batch_size": 16, "qrnet_base": 4, "qrnet_depth": 2, "pretrain_epochs": 1,
         "stage_epochs": 1, "cls_width": 4, "cls_epochs": 2, "finetune_epochs": 1}


def build_enhancer(config: _Shared) -> QRNet:
    return st.build_qrnet(config, config.dropout)


# ---------------------------------------------------------------- baselines (cached, constant)


def _const(pick: dict[str, nn.Module]):
    """A per-type picker from a dict, or one network for every type."""
    return lambda kind: pick[kind] if kind in pick else pick["*"]


def qrnet_baselines_key(config: Config) -> dict:
    kinds, name = tuple(config.distortions), config.classifier
    sets = [(k,) for k in kinds] + ([kinds] if len(kinds) > 1 else [])
    return {"scheme": "qrnet", "eval": {"images": config.eval_images, "batch": config.eval_batch},
            "cls": st.classifier_key(config, name), "recnet": [st.enhancer_key(config, ks) for ks in sets],
            "ft": [st.finetune_key(config, name, ks) for ks in sets]}


def qrnet_baselines(config: Config, progress: st.Progress = None) -> tuple[str, dict[str, float]]:
    """Tables 2 and 4 rows for ``config.classifier``: no recovery, RecNets, fine-tuned C."""
    kinds, name = tuple(config.distortions), config.classifier
    multi = len(kinds) > 1

    def compute() -> dict[str, float]:
        test = st.load_split(config, "test", progress)
        clean_c = st.load_classifier(config, name, progress)
        out = {"test_acc_clean": st.accuracy(clean_c, st.as_float(test[0]), test[1], config.eval_batch)}
        one = {"": _const({"*": clean_c})}
        out |= st.name_metrics(st.evaluate(test, config, kinds, "test", _const({"*": None}), one), "test", "distorted")
        recnets = {k: st.load_qrnet(config, st.recnet_stage(config, (k,), progress), config.stage_dropout) for k in kinds}
        out |= st.name_metrics(st.evaluate(test, config, kinds, "test", _const(recnets), one), "test", "recnet_single")
        fts = {k: st.load_finetuned(config, name, (k,), progress) for k in kinds}
        out |= st.name_metrics(st.evaluate(test, config, kinds, "test", _const({"*": None}), {"": _const(fts)}, with_ssim=False),
                               "test", "finetuned_single", quality=False)
        if multi:
            recnet = st.load_qrnet(config, st.recnet_stage(config, kinds, progress), config.stage_dropout)
            out |= st.name_metrics(st.evaluate(test, config, kinds, "test", _const({"*": recnet}), one), "test", "recnet_multi")
            ft = st.load_finetuned(config, name, kinds, progress)
            out |= st.name_metrics(st.evaluate(test, config, kinds, "test", _const({"*": None}), {"": _const({"*": ft})}, with_ssim=False),
                                   "test", "finetuned_multi", quality=False)
        return out

    return st.constants_stage(qrnet_baselines_key(config), compute, progress)


def mqrnet_baselines_key(config: MConfig) -> dict:
    kinds, c1 = tuple(config.distortions), config.classifiers[0]
    return {"scheme": "mqrnet", "eval": {"images": config.eval_images, "batch": config.eval_batch},
            "cls": [st.classifier_key(config, n) for n in config.judges()], "recnet": st.enhancer_key(config, kinds),
            "one": st.enhancer_key(config, kinds, (st.classifier_key(config, c1),), (config.baseline_lam,))}


def mqrnet_baselines(config: MConfig, progress: st.Progress = None) -> tuple[str, dict[str, float]]:
    """Fig. 6 rows: the unseen classifier alone, after RecNet (multiple), after a QRNet trained
    against ``classifiers[0]`` alone; the training classifiers alongside."""
    kinds = tuple(config.distortions)
    tags = {**dict(zip(_tags(config), config.classifiers)), "unseen": config.unseen}

    def compute() -> dict[str, float]:
        test = st.load_split(config, "test", progress)
        models = {t: st.load_classifier(config, n, progress) for t, n in tags.items()}
        out = {f"test_acc_{t}_clean": st.accuracy(m, st.as_float(test[0]), test[1], config.eval_batch) for t, m in models.items()}
        judges = {t: _const({"*": m}) for t, m in models.items()}
        recnet = st.load_qrnet(config, st.recnet_stage(config, kinds, progress), config.stage_dropout)
        one = st.load_qrnet(config, st.one_classifier_stage(config, tags["c1"], config.baseline_lam, progress), config.stage_dropout)
        for method, net in (("distorted", None), ("recnet_multi", recnet), ("qrnet_one", one)):
            out |= st.name_metrics(st.evaluate(test, config, kinds, "test", _const({"*": net}), judges), "test", method)
        return out

    return st.constants_stage(mqrnet_baselines_key(config), compute, progress)


# ---------------------------------------------------------------- the trial loop


def _train(config: _Shared, resume: dict | None, report: Report, judges: list[nn.Module], lams: list[float],
           tags: list[str], others: dict[str, nn.Module], heads: list[nn.Module], baselines: dict[str, float],
           names: dict[str, str]) -> None:
    """Algorithm 1 from the pretrained QRNet, reporting val/test metrics after each epoch.

    ``judges`` (tagged ``tags``) are trained against with weights ``lams``; ``others`` are only
    evaluated; ``heads`` are trained with QRNet (end-to-end); ``names`` maps tags to metric tags.
    """
    kinds = tuple(config.distortions)
    train, val, test = (st.load_split(config, s) for s in ("train", "val", "test"))
    model = st.load_qrnet(config, st.pretrain_stage(config), config.dropout)
    opt = torch.optim.Adam([*model.parameters(), *(p for h in heads for p in h.parameters())], lr=config.lr)
    gen = torch.Generator().manual_seed(config.seed + 1)  # batches and distortions
    torch.manual_seed(config.seed)  # dropout
    epoch, best, bad = 0, float("inf"), 0
    if resume is not None:
        model.load_state_dict(resume["enhancer"])
        opt.load_state_dict(resume["optimizer"])
        for head, state in zip(heads, resume["heads"]):
            head.load_state_dict(state)
        gen.set_state(resume["rng"])
        torch.set_rng_state(resume["torch_rng"])
        epoch, best, bad = int(resume["epoch"]), resume["best_val_loss"], resume["bad_epochs"]
        if bad >= config.patience:
            return  # that run had stopped early
    evaluated = {t: (lambda k, c=c: c) for t, c in [*zip(tags, judges), *others.items()]}
    while epoch < config.epochs:
        metrics = st.train_one_epoch(model, opt, judges, lams, train, config, kinds, gen)
        epoch += 1
        val_raw = st.evaluate(val, config, kinds, "val", lambda k: model, evaluated, with_ssim=False)
        test_raw = st.evaluate(test, config, kinds, "test", lambda k: model, evaluated)
        val_loss = st.validation_loss(val_raw, tags, lams)
        best, bad = (val_loss, 0) if val_loss < best else (best, bad + 1)
        stopped = bad >= config.patience and epoch < config.epochs
        metrics |= st.name_metrics(val_raw, "val", tags=names) | st.name_metrics(test_raw, "test", tags=names)
        metrics |= {"val_loss": val_loss, "epoch": float(epoch), "stopped_early": float(stopped),
                    "end_to_end": float(bool(heads))} | baselines
        state = copy.deepcopy({"epoch": epoch, "enhancer": model.state_dict(), "optimizer": opt.state_dict(),
                               "heads": [h.state_dict() for h in heads], "rng": gen.get_state(),
                               "torch_rng": torch.get_rng_state(), "best_val_loss": best, "bad_epochs": bad})
        report(metrics, state)
        if stopped:
            return


def train(config: Config, resume: dict | None, report: Report) -> None:
    """qrnet: one classifier, frozen or with its FC head(s) trained end-to-end."""
    _, baselines = qrnet_baselines(config)
    judge = st.load_classifier(config, config.classifier)
    heads = []
    if config.classifier_mode == "end_to_end":
        heads = [st.head_of(judge, config.classifier).requires_grad_(True)]
    _train(config, resume, report, [judge], [config.lam], ["c"], {}, heads, baselines, {"c": ""})


def mtrain(config: MConfig, resume: dict | None, report: Report) -> None:
    """mqrnet: the training classifiers frozen, the unseen one evaluated only."""
    _, baselines = mqrnet_baselines(config)
    judges = [st.load_classifier(config, n) for n in config.classifiers]
    unseen = {"unseen": st.load_classifier(config, config.unseen)}
    tags = _tags(config)
    _train(config, resume, report, judges, list(config.lams), tags, unseen, [], baselines, {t: t for t in [*tags, "unseen"]})


def _tags(config: MConfig) -> list[str]:
    """Metric tags of the training classifiers: c1, c2, ... in ``classifiers`` order."""
    return [f"c{i + 1}" for i in range(len(config.classifiers))]


def _data_stage(config: _Shared, progress: st.Progress) -> dict[str, str]:
    return {} if config.dataset == "embedded-digits" else {"data": st.caltech_stage(config, progress).name}


def prepare(config: Config, progress: st.Progress = None) -> dict[str, str]:
    """Build (or find) the clean classifier, pretrained QRNet, RecNets, fine-tuned classifiers
    and the baseline metrics."""
    kinds = tuple(config.distortions)
    out = _data_stage(config, progress)  # first: a missing dataset root is the first error
    out |= {"classifier": st.classifier_stage(config, config.classifier, progress).name,
            "pretrain": st.pretrain_stage(config, progress).name}
    for ks in [(k,) for k in kinds] + ([kinds] if len(kinds) > 1 else []):
        out[f"recnet_{st.set_tag(ks)}"] = st.recnet_stage(config, ks, progress).name
        out[f"finetuned_{st.set_tag(ks)}"] = st.finetune_stage(config, config.classifier, ks, progress).name
    out["baselines"] = qrnet_baselines(config, progress)[0]
    return out


def mprepare(config: MConfig, progress: st.Progress = None) -> dict[str, str]:
    """Build (or find) the three clean classifiers, pretrained QRNet, RecNet (multiple), the
    one-classifier QRNet and the baseline metrics."""
    out = _data_stage(config, progress)
    out |= {f"classifier_{n}": st.classifier_stage(config, n, progress).name for n in config.judges()}
    out["pretrain"] = st.pretrain_stage(config, progress).name
    out["recnet_multi"] = st.recnet_stage(config, tuple(config.distortions), progress).name
    out["qrnet_one"] = st.one_classifier_stage(config, config.classifiers[0], config.baseline_lam, progress).name
    out["baselines"] = mqrnet_baselines(config, progress)[0]
    return out


# ---------------------------------------------------------------- tables


_COLUMN = re.compile(r"^(?:(noise|blur)_(avg|[0-9.]+)|avg)$")


def _row(metrics: dict[str, float], label: str, metric: str, stem: str) -> dict | None:
    """One table row: per level (Figs. 4–6), per-type and overall means (Tables 2, 4, 5)."""
    cells = []
    for name, v in metrics.items():
        m = _COLUMN.match(name[len(stem) + 1:]) if name.startswith(stem + "_") else None
        if m:
            kind, level = m.groups()
            order = (st.KINDS.index(kind) if kind else len(st.KINDS), level == "avg", float(level) if level and level != "avg" else 0.0)
            cells.append((order, name[len(stem) + 1:], round(v, 4)))
    if not cells:
        return None
    return {"method": label, "metric": metric, **{col: v for _, col, v in sorted(cells)}}


def table(metrics: dict[str, float]) -> list[dict]:
    """Tables 2 and 4 (accuracy per type and level), Table 5 (PSNR/SSIM), for qrnet."""
    e2e = metrics.get("end_to_end", 0.0) > 0
    rows = [("C (clean-trained), distorted input", "acc", "test_acc_distorted"),
            ("RecNet (single) + C", "acc", "test_acc_recnet_single"),
            ("RecNet (multiple) + C", "acc", "test_acc_recnet_multi"),
            ("Fine-tuned C (single)", "acc", "test_acc_finetuned_single"),
            ("Fine-tuned C (multiple)", "acc", "test_acc_finetuned_multi"),
            ("QRNet + C (end-to-end)" if e2e else "QRNet + C", "acc", "test_acc"),
            ("distorted", "psnr", "test_psnr_distorted"), ("RecNet (multiple)", "psnr", "test_psnr_recnet_multi"),
            ("QRNet", "psnr", "test_psnr"),
            ("distorted", "ssim", "test_ssim_distorted"), ("RecNet (multiple)", "ssim", "test_ssim_recnet_multi"),
            ("QRNet", "ssim", "test_ssim")]
    out = [r for r in (_row(metrics, *spec) for spec in rows) if r]
    if "test_acc_clean" in metrics:
        out.append({"method": "C (clean-trained), clean input", "metric": "acc", "avg": round(metrics["test_acc_clean"], 4)})
    return out


def mtable(metrics: dict[str, float]) -> list[dict]:
    """Fig. 6 (the unseen classifier per level), the training classifiers, Table 5 for MQRNet."""
    rows = [("unseen, distorted input", "acc", "test_acc_unseen_distorted"),
            ("RecNet (multiple) + unseen", "acc", "test_acc_unseen_recnet_multi"),
            ("QRNet (c1 only) + unseen", "acc", "test_acc_unseen_qrnet_one"),
            ("MQRNet + unseen", "acc", "test_acc_unseen")]
    tags = sorted({m.group(1) for m in map(re.compile(r"^test_acc_(c\d+)_clean$").match, metrics) if m}, key=lambda t: int(t[1:]))
    for tag in tags:
        rows += [(f"{tag}, distorted input", "acc", f"test_acc_{tag}_distorted"), (f"MQRNet + {tag}", "acc", f"test_acc_{tag}")]
    rows += [("distorted", "psnr", "test_psnr_distorted"), ("MQRNet", "psnr", "test_psnr"),
             ("distorted", "ssim", "test_ssim_distorted"), ("MQRNet", "ssim", "test_ssim")]
    out = [r for r in (_row(metrics, *spec) for spec in rows) if r]
    for tag in ("unseen", *tags):
        if f"test_acc_{tag}_clean" in metrics:
            out.append({"method": f"{tag}, clean input", "metric": "acc", "avg": round(metrics[f"test_acc_{tag}_clean"], 4)})
    return out


SCHEME = Scheme(
    name="qrnet",
    description="U-Net recovering distorted images for a classifier: L1 + λ·CE, frozen or end-to-end (seed 003, Tables 2-5)",
    Config=Config,
    prepare=prepare,
    train=train,
    build_enhancer=build_enhancer,
    table=table,
    smoke=SMOKE,
)

MQRNET = Scheme(
    name="mqrnet",
    description="QRNet trained against several classifiers, L1 + Σ λ_i·CE_i, judged on an unseen one (seed 003, Fig. 6)",
    Config=MConfig,
    prepare=mprepare,
    train=mtrain,
    build_enhancer=build_enhancer,
    table=mtable,
    smoke=SMOKE,
)
