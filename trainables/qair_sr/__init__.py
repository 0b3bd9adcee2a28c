"""``qair_sr`` (seed 000 §4.2, §6.7, Table 8): ×4 super-resolution fine-tuned with (1 − predicted AP) + λ·MSE.

The enhancer is bicubic ×4 upsampling followed by a residual DnCNN; the QAIR judge is trained on
blurred and bicubic down-up versions of the queries. Stages, loop and loss are
``qair_denoise``'s (``config.TASK`` = "sr" picks the degradation); this package holds only what
differs: ``config.py`` (``Config`` with ``scale``, ``SMOKE``) and ``tables.py`` (Table 8).
"""

from trainables.contract import Scheme
from trainables.model_io import Images
from trainables.qair_denoise.training import build_model, coupled_loss, prepare, train
from trainables.qair_sr.config import SMOKE, Config
from trainables.qair_sr.tables import table

SCHEME = Scheme(
    name="qair_sr",
    description="DnCNN after bicubic x4, fine-tuned with (1 - predicted AP) + λ·MSE, QAIR frozen (seed 000, Table 8)",
    Config=Config,
    prepare=prepare,
    train=train,
    build_model=build_model,
    model_io=lambda config: Images(scales=(config.scale,)),  # the small query in, x4 out
    table=table,
    smoke=SMOKE,
)

__all__ = ["SCHEME", "Config", "SMOKE", "coupled_loss", "build_model", "prepare", "train", "table"]
