"""The settings of ``qair_sr``: those of ``qair_denoise`` with a scale instead of a noise level."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from trainables.errors import UserInputError
from trainables.qair_denoise.config import SMOKE as DENOISE_SMOKE
from trainables.qair_denoise.config import Config as DenoiseConfig


@dataclass
class Config(DenoiseConfig):
    SCHEME_NAME = "qair_sr"
    TASK: ClassVar[str] = "sr"
    scale: int = 4  # the query is MATLAB-bicubic downscaled by this factor (§6.7: ×4)

    def __post_init__(self):
        super().__post_init__()
        check_sr(self)


def check_scale(scale: int) -> None:
    if scale < 2:
        raise UserInputError(f"scale must be an integer >= 2, got {scale}")


def check_sr(config: DenoiseConfig) -> None:
    """The SR enhancer's settings: a scale that divides the patch, and no noise settings (they
    would mean nothing: say so instead of ignoring them)."""
    check_scale(config.scale)
    if config.patch % config.scale:
        raise UserInputError(f"patch ({config.patch}) must be a multiple of scale ({config.scale})")
    unused = DenoiseConfig()
    for name in ("sigma", "sigma_max", "classical"):
        if getattr(config, name) != getattr(unused, name):
            raise UserInputError(f"super-resolution takes no {name} (a denoising setting): the input is the "
                                 f"×{config.scale} smaller query")


# qair_denoise's smoke sizes: the patch (32) is already a multiple of 4
SMOKE = dict(DENOISE_SMOKE)
