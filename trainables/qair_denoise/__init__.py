"""``qair_denoise`` (seed 000 §4.1, Table 3): DnCNN fine-tuned with (1 − predicted AP) + λ·MSE.

- ``config.py``: ``Config`` and ``SMOKE``;
- ``data.py``: the retrieval set, landmark-disjoint splits, patches, noise, SIFT AP;
- ``stages.py``: the cached stages (pretrained DnCNN, AP labels, a QAIR head per split);
- ``training.py``: the weighted sum (``coupled_loss``), ``prepare``, ``train``;
- ``tables.py``: Table 3.
"""

from trainables.contract import Scheme
from trainables.model_io import Images
from trainables.qair_denoise.config import SMOKE, Config
from trainables.qair_denoise.tables import table
from trainables.qair_denoise.training import build_model, coupled_loss, prepare, train

SCHEME = Scheme(
    name="qair_denoise",
    description="DnCNN fine-tuned with (1 - predicted AP) + λ·MSE, QAIR frozen (seed 000, Table 3)",
    Config=Config,
    prepare=prepare,
    train=train,
    build_model=build_model,
    model_io=lambda config: Images(scales=(1,)),  # a denoiser: same size out
    table=table,
    smoke=SMOKE,
    input_degradation=lambda config: {"noise_sigma": config.sigma},
)

__all__ = ["SCHEME", "Config", "SMOKE", "coupled_loss", "build_model", "prepare", "train", "table"]
