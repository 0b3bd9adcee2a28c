"""The settings of ``qrnet`` and ``mqrnet`` and their smoke sizes (the one definition of them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from trainables.contract import SchemeConfig
from trainables.data.degradations import blur_kernel_size
from trainables.errors import UserInputError
from trainables.qrnet.classifiers import CLASSIFIERS
from trainables.qrnet.data import DATASETS, KINDS, levels_of


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
        if self.dataset not in DATASETS:
            raise UserInputError(f"dataset must be one of {', '.join(DATASETS)}; got {self.dataset!r}")
        if self.dataset != "embedded-digits" and not self.data_root:
            raise UserInputError(f"dataset {self.dataset!r} needs data_root (the folder holding {self.dataset}/)")
        if not self.distortions or len(set(self.distortions)) != len(self.distortions) or set(self.distortions) - set(KINDS):
            raise UserInputError(f"distortions must be distinct names from {', '.join(KINDS)}; got {list(self.distortions)}")
        for kind in self.distortions:
            levels = levels_of(self, kind)
            if not levels or min(levels) <= 0:
                raise UserInputError(f"{kind}_levels must be a non-empty list of positive numbers; got {list(levels)}")
        if "blur" in self.distortions and blur_kernel_size(max(self.blur_levels)) // 2 >= self.image_size:
            raise UserInputError(f"blur σ {max(self.blur_levels):g} needs images larger than image_size {self.image_size}")
        if self.batch_size < 2 or self.batch_size % 2:
            raise UserInputError(f"batch_size must be even (half clean, half distorted); got {self.batch_size}")
        for name in self.judges():
            if name not in CLASSIFIERS:
                raise UserInputError(f"unknown classifier {name!r} (known: {', '.join(CLASSIFIERS)})")
        if "inception_v3" in self.judges() and self.image_size < 75:
            raise UserInputError(f"inception_v3 needs image_size >= 75; got {self.image_size}")


@dataclass
class Config(_Shared):
    """qrnet: one classifier, frozen or with its FC head(s) trained end-to-end."""

    SCHEME_NAME: ClassVar[str] = "qrnet"  # the module no longer names the scheme
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
    """mqrnet: trained against two or more frozen classifiers, judged on an unseen one."""

    SCHEME_NAME: ClassVar[str] = "mqrnet"
    # λ_i of Eq. 5, one per training classifier (paper: 0.01 each, for VGG16 and Inception v3);
    # a search space searches them as lams.0, lams.1, ...
    lams: tuple[float, ...] = (0.01, 0.01)
    classifiers: tuple[str, ...] = ("small_vgg", "small_inception")  # trained against, two or more
    unseen: str = "small_resnet"  # judged on, never trained against (paper: ResNet)
    baseline_lam: float = 0.01  # λ of the cached one-classifier QRNet baseline (not searched)

    def judges(self) -> tuple[str, ...]:
        return (*self.classifiers, self.unseen)

    def tags(self) -> list[str]:
        """Metric tags of the training classifiers: c1, c2, ... in ``classifiers`` order."""
        return [f"c{i + 1}" for i in range(len(self.classifiers))]

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


# A subset of the digits, two levels per type, tiny networks: a CPU-minutes run through the real
# stack (contract tests, --smoke). The same for both schemes (mqrnet ignores finetune_epochs).
SMOKE = {"epochs": 2, "train_images": 400, "eval_images": 100, "noise_levels": (20.0, 60.0), "blur_levels": (1.0, 3.0),
         "batch_size": 16, "qrnet_base": 8, "qrnet_depth": 2, "pretrain_epochs": 2, "stage_epochs": 2, "cls_width": 8,
         "cls_epochs": 8, "finetune_epochs": 1}
