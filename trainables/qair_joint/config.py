"""The settings of ``qair_joint``: those of ``qair_denoise`` with the noise range of Table 5 and
the training downscaling factors of §6.8."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from trainables.errors import UserInputError
from trainables.qair_denoise.config import SMOKE as DENOISE_SMOKE
from trainables.qair_denoise.config import Config as DenoiseConfig
from trainables.qair_sr.config import check_scale


@dataclass
class Config(DenoiseConfig):
    SCHEME_NAME = "qair_joint"
    TASK: ClassVar[str] = "joint"
    sigma: float = 30.0  # noisy inputs: σ uniform in [sigma, sigma_max] (§6.8: 30–60)
    sigma_max: float | None = 60.0
    sr_factors: tuple[float, ...] = (3.8, 3.9, 4.0, 4.1)  # small training inputs (§6.8)
    scale: int = 4  # the small test input

    def __post_init__(self):
        super().__post_init__()
        if not self.sr_factors or any(f <= 1 for f in self.sr_factors):
            raise UserInputError(f"sr_factors must be downscaling factors above 1, got {self.sr_factors}")
        check_scale(self.scale)


SMOKE = dict(DENOISE_SMOKE)
