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
        if self.scale < 2:
            raise UserInputError(f"scale must be an integer >= 2, got {self.scale}")
        if self.patch % self.scale:
            raise UserInputError(f"patch ({self.patch}) must be a multiple of scale ({self.scale})")
        # the noise settings of qair_denoise mean nothing here: say so instead of ignoring them
        unused = DenoiseConfig()
        for name in ("sigma", "sigma_max", "classical"):
            if getattr(self, name) != getattr(unused, name):
                raise UserInputError(f"qair_sr takes no {name} (a qair_denoise setting): the input is the ×{self.scale} smaller query")


# qair_denoise's smoke sizes: the patch (32) is already a multiple of 4
SMOKE = dict(DENOISE_SMOKE)
