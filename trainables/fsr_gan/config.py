"""The settings of ``fsr_gan`` and its smoke sizes (the one definition of them)."""

from __future__ import annotations

from dataclasses import dataclass

from trainables.contract import SchemeConfig
from trainables.errors import UserInputError

DATASETS = ("embedded-landmarks", "roxford5k", "rparis6k")
EXTRACTORS = ("embedded", "vgg16")


@dataclass
class Config(SchemeConfig):
    SCHEME_NAME = "fsr_gan"
    # retrieval data; landmarks are split train / val / test, the seed picks the test fold
    dataset: str = "embedded-landmarks"
    data_root: str | None = None  # the revisitop root for roxford5k / rparis6k
    n_folds: int = 3  # seed s tests on fold s mod n_folds; validation is a fixed group (qair's split)
    # the frozen extractor F: "embedded" (a descriptor net trained here on the training landmarks,
    # a stand-in for VGG16) or "vgg16" (fc7 of torchvision's VGG16, ImageNet weights from a local file)
    extractor: str = "embedded"
    extractor_weights: str | None = None
    input_size: int = 192  # F's input side: every query is resized to it (paper: 224)
    feature_side: int = 32  # the feature is a feature_side² vector, seen by G and D as a map (paper: 64 → 4096-d)
    desc_steps: int = 900  # the embedded descriptor's training (instance discrimination)
    desc_lr: float = 1e-3
    desc_batch_size: int = 32
    # queries degraded as §5.2: downsampled by 1/k per side (area 1/k²), bicubic back up to input_size
    factors: tuple[int, ...] = (2, 3, 4, 5, 6, 7, 8)
    pair_crops: int = 4  # training pairs: random crops per training-landmark database view
    # FSR-GAN (searched: r, w_adv, lr, n_critic)
    r: float = 2.0  # the focal exponent: (1/m)·Σ‖F_SR − F_HR‖₂^r (Eq. 9); r = 1 is GAN-MSE (Eq. 8)
    w_adv: float = 0.01  # weight of the adversarial term −E[D(F_SR)]
    lr: float = 8e-4  # Adam, G and D (§5.1)
    n_critic: int = 5  # critic steps per generator step
    lipschitz: str = "clip"  # "clip" (weight clipping, the paper's WGAN) or "gp" (gradient penalty)
    clip_value: float = 0.01
    gp_weight: float = 10.0
    dropout: float = 0.7  # "dropout(70%)", read as drop probability 0.7
    batch_size: int = 64
    epochs: int = 10
    steps_per_epoch: int = 100  # generator steps
    # ISR baseline: a VDSR-like pixel network (DnCNN architecture, residual) trained with MSE
    isr_depth: int = 8
    isr_width: int = 32
    isr_batch_size: int = 16
    seed: int = 0

    def __post_init__(self):
        checks = [
            (self.dataset in DATASETS, f"dataset must be one of {', '.join(DATASETS)}, got {self.dataset!r}"),
            (self.dataset == "embedded-landmarks" or bool(self.data_root), f"dataset {self.dataset!r} needs data_root (the revisitop root)"),
            (self.extractor in EXTRACTORS, f"extractor must be one of {', '.join(EXTRACTORS)}, got {self.extractor!r}"),
            (self.extractor != "vgg16" or self.feature_side == 64, "extractor 'vgg16' gives 4096-d fc7 features: feature_side must be 64"),
            (self.n_folds >= 2, f"n_folds must be >= 2, got {self.n_folds}"),
            (bool(self.factors) and all(k >= 2 for k in self.factors), f"factors must be integers >= 2, got {self.factors}"),
            (self.r > 0, f"r must be > 0, got {self.r}"),
            (self.w_adv >= 0, f"w_adv must be >= 0, got {self.w_adv}"),
            (self.n_critic >= 1, f"n_critic must be >= 1, got {self.n_critic}"),
            (self.lipschitz in ("clip", "gp"), f"lipschitz must be 'clip' or 'gp', got {self.lipschitz!r}"),
            (0 <= self.dropout < 1, f"dropout must be in [0, 1), got {self.dropout}"),
            (self.input_size >= 32, f"input_size must be >= 32, got {self.input_size}"),
            (self.feature_side >= 8, f"feature_side must be >= 8, got {self.feature_side}"),
        ]
        for ok, message in checks:
            if not ok:
                raise UserInputError(message)

    @property
    def split(self) -> int:
        return self.seed % self.n_folds

    @property
    def dim(self) -> int:
        return self.feature_side ** 2

    @property
    def train_steps(self) -> int:
        """A trial's generator steps: every baseline stage trains as long."""
        return self.epochs * self.steps_per_epoch


# Tiny data and networks: a CPU-minutes run through the real stack (contract tests, --smoke).
SMOKE = {"input_size": 48, "feature_side": 8, "desc_steps": 20, "desc_batch_size": 8, "factors": [2, 4],
         "pair_crops": 1, "batch_size": 8, "epochs": 2, "steps_per_epoch": 3, "isr_depth": 3,
         "isr_width": 8, "isr_batch_size": 4}
