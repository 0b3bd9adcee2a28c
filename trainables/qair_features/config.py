"""The settings of ``qair_features``: those of ``qair_denoise`` (or, with ``task: sr``, of
``qair_sr``) for the enhancer, the labels and the CNN backend, plus the feature QA net and the
extractor's fine-tuning (seed 000 §5, §6.2.3)."""

from __future__ import annotations

from dataclasses import dataclass

from trainables.errors import UserInputError
from trainables.qair_denoise.config import SMOKE as DENOISE_SMOKE
from trainables.qair_denoise.config import Config as DenoiseConfig
from trainables.qair_sr.config import check_sr


@dataclass
class Config(DenoiseConfig):
    SCHEME_NAME = "qair_features"
    # the enhancer in front of the features, fixed: "denoise" (σ-noisy queries, Tables 10-11) or
    # "sr" (×scale smaller queries, Table 12); its stages are qair_denoise's or qair_sr's, shared
    task: str = "denoise"
    scale: int = 4  # task "sr" only
    local_feature: str = "cnn"  # the adapted extractor is the CNN backend's trunk; nothing else has weights
    # fine-tuning the extractor (searched: lam, lr). λ weighs M, the MSE between the tweaked and the
    # original conv map; the step descends Eq. 4 / (1 + λ) as qair's does Eq. 3, so λ → ∞ keeps
    # the original features (the "NN" column) and the sweep can find that end.
    lam: float = 1.0
    lr: float = 3e-4  # SGD, §6.2.3
    batch_size: int = 8  # enhanced training queries per step (whole images)
    steps_per_epoch: int = 20
    # the feature QA net (Fig. 8): GAP of the conv map, FC 128-64-32-16-1, Adam + MAE (§6.2.3)
    fqa_steps: int = 3000
    fqa_lr: float = 1e-3
    fqa_batch_size: int = 32

    @property
    def TASK(self) -> str:  # what the shared qair stages read
        return self.task

    def __post_init__(self):
        if self.task not in ("denoise", "sr"):
            raise UserInputError(f"qair_features task must be 'denoise' or 'sr', got {self.task!r}")
        if self.local_feature != "cnn":
            raise UserInputError(f"qair_features adapts a CNN's features: local_feature must be 'cnn', got {self.local_feature!r}")
        super().__post_init__()
        if self.task == "sr":
            check_sr(self)


SMOKE = DENOISE_SMOKE | {"fqa_steps": 20, "fqa_batch_size": 8, "batch_size": 2}
