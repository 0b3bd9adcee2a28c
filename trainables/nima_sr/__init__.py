"""``nima_sr`` (seed 002): EDSR / MDSR fine-tuned with L2 + γ·(10 − NIMA mean score), NIMA frozen.

- ``config.py``: ``Config`` (task sr | deblur, arch edsr | mdsr) and ``SMOKE``;
- ``data.py``: the HR photos split by photo, LR / blurred-LR inputs, patches, evaluation crops;
- ``judge.py``: the NIMA judge's data, squared-EMD training and its SRCC / PLCC / EMD;
- ``stages.py``: the cached stages (judge, L2 baseline model, its γ = 0 twin);
- ``training.py``: the weighted sum (``coupled_loss``), ``prepare``, ``train``;
- ``tables.py``: the per-trial comparison (HR, bicubic, baseline, γ = 0, this trial).

Metric names: ``{val|test}_{psnr|ssim|nima}[_x{s}][_{method}]`` with method ``hr`` (NIMA only),
``bicubic``, ``pretrained`` (the L2 baseline model), ``l2`` (its γ = 0 twin) or none (this
trial); ``_x{s}`` names MDSR's other scales. ``judge_srcc``, ``judge_plcc``, ``judge_emd``:
the judge on its own test split. Objectives: ``val_psnr`` and ``val_nima``.
"""

from trainables.contract import Scheme
from trainables.model_io import Images
from trainables.nima_sr.config import SMOKE, Config
from trainables.nima_sr.tables import table
from trainables.nima_sr.training import build_model, coupled_loss, prepare, train


def _model_io(config: Config) -> Images:
    return Images(scales=config.scales)  # MDSR: the scale is an input of the one registered model


SCHEME = Scheme(
    name="nima_sr",
    description="EDSR/MDSR for SR or deblurring, fine-tuned with L2 + γ·(10 − NIMA score), NIMA frozen (seed 002)",
    Config=Config,
    prepare=prepare,
    train=train,
    build_model=build_model,
    model_io=_model_io,
    table=table,
    smoke=SMOKE,
    # SR: the bicubic downscale alone (the model_io's scale); deblurring: then a Gaussian blur
    input_degradation=lambda config: {"blur_sigma": config.deblur_sigma} if config.task == "deblur" else {},
)

__all__ = ["SCHEME", "Config", "SMOKE", "coupled_loss", "build_model", "prepare", "train", "table"]
