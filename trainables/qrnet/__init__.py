"""QRNet and MQRNet (seed 003): a U-Net that recovers distorted images for classifiers.

    qrnet:   L = L1(x*, Q(x)) + λ·CE(C(Q(x)), t)                       (Eq. 4)
    mqrnet:  L = L1(x*, Q(x)) + Σ_i λ_i·CE(C_i(Q(x)), t)                (Eq. 5: two classifiers)

One package, two schemes (``SCHEME``, ``MQRNET``):

- ``config.py``: ``Config`` (qrnet), ``MConfig`` (mqrnet) and ``SMOKE``;
- ``data.py``: the datasets, splits and distortions;
- ``classifiers.py``: the classifier families and their training;
- ``algorithm.py``: the one weighted sum (``coupled_loss``), Algorithm 1's epoch, the evaluation;
- ``stages.py``: the cached stages (data, classifiers, pretrained QRNet, RecNets, ...);
- ``baselines.py``: the baseline rows, evaluated once by a stage;
- ``training.py``: ``prepare`` / ``mprepare``, ``train`` / ``mtrain`` (Algorithm 1, early stopping);
- ``tables.py``: Tables 2, 4, 5 and Fig. 6.

Data: ``embedded-digits`` (built in) or ``caltech101`` from ``data_root``. Validation and test
images are distorted once per (split, type, level) with a fixed seed, so every method and every
epoch sees the same images. mqrnet is judged on ``unseen``, a clean-trained classifier of a
family not in ``classifiers`` (§III-C: trained with VGG16 + Inception v3, judged on ResNet).
Its ``val_acc_unseen_avg`` objective does use the unseen classifier on validation images to
pick hyperparameters (never on test); ``val_acc_c1_avg``, ``val_acc_c2_avg``, ... are the strict choice.

Metric names (flat floats)::

    {split}_{metric}[_{classifier}][_{method}]_{where}

- split: ``val`` or ``test``; metric: ``acc``, ``psnr``, ``ssim`` (recovered vs clean images;
  ``ssim`` on test only).
- classifier (mqrnet only): ``c1``, ``c2``, ... (the training classifiers, in ``classifiers``
  order) or ``unseen``; qrnet names have none (its one classifier).
- method: none for this trial's network; baselines (test only, constant across trials):
  ``distorted`` (no recovery, clean-trained classifier), ``recnet_single`` / ``recnet_multi``
  (L1-only QRNet trained on one type / both types), ``finetuned_single`` /
  ``finetuned_multi`` (classifier fine-tuned on distorted images; acc only), ``qrnet_one``
  (mqrnet: QRNet trained against ``classifiers[0]`` alone at ``baseline_lam``).
- where: ``{type}_{level}`` (``noise_20``, ``blur_2``), ``{type}_avg`` (mean over levels) or
  ``avg`` (mean over every type×level).

Also: ``test_acc[_{classifier}]_clean`` (classifier on undistorted test images), ``val_loss``,
``train_loss``, ``train_l1``, ``train_ce1`` (``train_ce2``, ...), ``epoch``, ``stopped_early``,
``end_to_end`` (1.0 in end-to-end mode). Objectives: ``val_acc_avg`` (qrnet),
``val_acc_unseen_avg`` (mqrnet), ``val_psnr_avg``.
"""

from trainables.contract import Scheme
from trainables.model_io import Images
from trainables.qrnet.algorithm import coupled_loss, qrnet_loss
from trainables.qrnet.config import SMOKE, Config, MConfig
from trainables.qrnet.tables import mtable, table
from trainables.qrnet.training import build_model, mprepare, mtrain, prepare, train


def _model_io(config) -> Images:
    return Images(scales=(1,))  # QRNet returns the recovered image at the input's size


def _input_degradation(config) -> dict[str, float]:
    """The middle noise level (else the middle blur level) of those it was trained on."""
    if "noise" in config.distortions:
        return {"noise_sigma": config.noise_levels[len(config.noise_levels) // 2]}
    return {"blur_sigma": config.blur_levels[len(config.blur_levels) // 2]}


SCHEME = Scheme(
    name="qrnet",
    description="U-Net recovering distorted images for a classifier: L1 + λ·CE, frozen or end-to-end (seed 003, Tables 2-5)",
    Config=Config,
    prepare=prepare,
    train=train,
    build_model=build_model,
    model_io=_model_io,
    table=table,
    smoke=SMOKE,
    input_degradation=_input_degradation,
)

MQRNET = Scheme(
    name="mqrnet",
    description="QRNet trained against several classifiers, L1 + Σ λ_i·CE_i, judged on an unseen one (seed 003, Fig. 6)",
    Config=MConfig,
    prepare=mprepare,
    train=mtrain,
    build_model=build_model,
    model_io=_model_io,
    table=mtable,
    smoke=SMOKE,
    input_degradation=_input_degradation,
)

__all__ = ["SCHEME", "MQRNET", "Config", "MConfig", "SMOKE", "coupled_loss", "qrnet_loss", "build_model",
           "prepare", "mprepare", "train", "mtrain", "table", "mtable"]
