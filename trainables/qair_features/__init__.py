"""``qair_features`` (seed 000 §5, §6.9, Tables 10-12): feature adaptation. The enhancer is fixed
(the MSE-trained "NN"); the CNN retrieval backend's trunk is fine-tuned for enhanced queries with
(1 − predicted AP) + λ·M, M the MSE to the original conv map, a frozen feature QA net predicting AP.

- ``config.py``: ``Config`` (``task``: "denoise" or "sr") and ``SMOKE``;
- ``stages.py``: ``FEATURE_QA``, the feature QA net per split (the other stages are qair's, shared);
- ``training.py``: the weighted sum (``feature_loss``), ``prepare``, ``train``;
- ``tables.py``: Tables 10-12.
"""

from trainables.contract import Scheme
from trainables.data import embedded_landmarks
from trainables.model_io import Descriptors
from trainables.qair_features.config import SMOKE, Config
from trainables.qair_features.tables import table
from trainables.qair_features.training import build_model, feature_loss, prepare, train


def _model_io(config: Config) -> Descriptors:
    enhancer = "DnCNN denoiser" if config.task == "denoise" else f"bicubic ×{config.scale} + DnCNN"
    scale = config.scale if config.task == "sr" else 1
    if config.dataset == embedded_landmarks.NAME:  # 128, 512: the last conv widths of the two CNNs
        return Descriptors(128, f"tasksweep embedded landmark descriptor, untuned (GeM of its last conv map, L2-normalised; "
                                f"a stand-in for VGG-19, trained on the training landmarks of split {config.splits[0]}); "
                                f"this model's queries go through the {enhancer} and the tuned conv map", scale)
    return Descriptors(512, f"VGG-19 with ImageNet weights, untuned (GeM of its last conv map, L2-normalised); this "
                            f"model's queries go through the {enhancer} and the tuned conv map", scale)


SCHEME = Scheme(
    name="qair_features",
    description="feature adaptation: a CNN descriptor's trunk tuned for enhanced queries, (1 - feature-QA AP) + λ·M (seed 000, Tables 10-12)",
    Config=Config,
    prepare=prepare,
    train=train,
    build_model=build_model,
    model_io=_model_io,
    table=table,
    smoke=SMOKE,
    input_degradation=lambda config: {"noise_sigma": (config.sigma + (config.sigma_max or config.sigma)) / 2}
    if config.task == "denoise" else {},
)

__all__ = ["SCHEME", "Config", "SMOKE", "feature_loss", "build_model", "prepare", "train", "table"]
