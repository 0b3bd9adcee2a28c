"""``qair_joint`` (seed 000 §6.8, Table 9): one DnCNN for denoising and ×4 super-resolution,
fine-tuned with (1 − predicted AP) + λ·MSE.

Trained on noisy (σ 30–60) and on small (÷3.8–4.1, bicubic-upsampled) images, judged by a QAIR
head trained on both kinds; tested on one noisy and one ÷4 version of each query. Stages, loop
and loss are ``qair_denoise``'s (``config.TASK`` = "joint"); this package holds what differs:
``config.py`` (``Config``, ``SMOKE``) and ``tables.py`` (Table 9).
"""

from trainables.contract import Scheme
from trainables.model_io import Images
from trainables.qair_denoise.training import build_model, coupled_loss, prepare, train
from trainables.qair_joint.config import SMOKE, Config
from trainables.qair_joint.tables import table

SCHEME = Scheme(
    name="qair_joint",
    description="one DnCNN for noise and bicubic-upsampled x4 inputs, (1 - predicted AP) + λ·MSE (seed 000, Table 9)",
    Config=Config,
    prepare=prepare,
    train=train,
    build_model=build_model,
    model_io=lambda config: Images(scales=(1,)),  # a noisy or an upsampled small image in, same size out
    table=table,
    smoke=SMOKE,
    input_degradation=lambda config: {"noise_sigma": (config.sigma + (config.sigma_max or config.sigma)) / 2},
)

__all__ = ["SCHEME", "Config", "SMOKE", "coupled_loss", "build_model", "prepare", "train", "table"]
