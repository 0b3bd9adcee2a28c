"""``fsr_gan`` (seed 001): FSR-GAN, a small query's feature super-resolved towards the large image's.

- ``config.py``: ``Config`` and ``SMOKE``;
- ``data.py``: the retrieval set, the landmark split, small queries (§5.2), PNG sizes;
- ``extractor.py``: the frozen F (VGG16 fc7, or the embedded stand-in descriptor trained here);
- ``stages.py``: the cached stages (F, the feature bank, ISR, CNN-Baseline, GAN-MSE);
- ``training.py``: the losses in the open (Eqs. 7-9), the G/D loop, ``prepare``, ``train``;
- ``metrics.py``: retrieval mAP of features, distances; ``tables.py``: the paper's figures.

Metric names: ``{val|test}_{map|map_distractors|dist}_x{k}[_{method}]`` for a query downsampled
1/k per side (area 1/k²), method ``raw`` (F of the small query), ``isr`` (pixel SR, then F),
``cnn`` (CNN-Baseline), ``gan_mse`` (r = 1) or none (this trial); ``{split}_map[_{method}]``
averages over the sizes (``val_map`` is the objective). Constants: ``{split}_map_clean`` (the
large query), ``{split}_dist_var_x{k}_raw`` (Table 1), ``{split}_dist_similar`` /
``_dissimilar`` (Fig. 4's lines), ``{split}_bits_x{k}`` (Fig. 8's x-axis).
"""

from trainables.contract import Scheme
from trainables.fsr_gan.config import SMOKE, Config
from trainables.fsr_gan.tables import curves, table
from trainables.fsr_gan.training import build_model, critic_loss, generator_loss, prepare, train
from trainables.model_io import Features


def _model_io(config: Config) -> Features:
    if config.extractor == "vgg16":
        return Features(config.dim, f"VGG16 fc7 after ReLU (ImageNet weights), query squashed to {config.input_size}², L2-normalised")
    return Features(config.dim, f"tasksweep embedded landmark descriptor (a stand-in for VGG16 fc7, trained on the "
                                f"training landmarks of split {config.split}), query squashed to {config.input_size}², L2-normalised")


SCHEME = Scheme(
    name="fsr_gan",
    description="FSR-GAN: feature super-resolution of small queries with a WGAN critic and focal exponent r (seed 001)",
    Config=Config,
    prepare=prepare,
    train=train,
    build_model=build_model,
    model_io=_model_io,
    table=table,
    smoke=SMOKE,
    curves=curves,
)

__all__ = ["SCHEME", "Config", "SMOKE", "critic_loss", "generator_loss", "build_model", "prepare", "train", "table", "curves"]
