"""Fidelity-map calibration (seed 004): a frozen classifier trained on clean images, calibrated
under noise by small modules that read a restoration fidelity map.

    loss = CE_smoothed(C_frozen(R(x) ⊙ modules(f̂(x))), t)        f = |R(x) − x*|  (§4.1, §4.3)

Nothing is weighed against anything here: the searched choices are architectural (which of the
§4.3 modules, the fidelity measure, the downsampling, the estimator mode) plus the recipe's
numbers (lr, warm-up, label smoothing).

- ``config.py``: ``Config`` and ``SMOKE``;
- ``data.py``: the datasets, splits, the conditions of Table 5.1 and the σ mixture;
- ``model.py``: the fidelity map and ``CalibratedClassifier`` (the registered model);
- ``recipe.py``: §3.1's NAG, warm-up + cosine, label smoothing, best epoch;
- ``stages.py``: the cached classifier (setup 1), restorer, setups 2 and 3, estimator, evaluation
  images and baseline metrics;
- ``training.py``: ``prepare``, ``train``;
- ``tables.py``: Table 5.1, the accuracy-vs-σ curve, and the sweep-wide Tables 5.1 / 6.1.

Data: ``embedded-photo-crops`` (built in; a stand-in, not Caltech-256) or ``caltech256`` from
``data_root``.

Metric names: ``{split}_acc_{condition}`` for this trial's method (``split`` val or test;
``condition`` ``clean``, ``s0.1`` … ``s0.5``, ``ramp1d``, ``ramp2d``, or ``avg``: the mean over
clean and every σ, the objective); ``test_acc_setup{1,2,3}[_restored]_{condition}`` for the
baselines (constant across trials); ``train_loss``, ``val_loss``, ``test_loss`` (cross-entropy
over every condition); ``method_estimator`` (0 oracle, 1 pretrained, 2 end-to-end) and
``method_ensemble`` (0/1), which the tables read.
"""

from trainables.contract import Scheme
from trainables.fidelity.config import SMOKE, Config
from trainables.fidelity.stages import n_classes
from trainables.fidelity.tables import curves, sweep_rows, table
from trainables.fidelity.training import build_model, prepare, train
from trainables.model_io import ClassScores


def _model_io(config: Config) -> ClassScores:
    if config.dataset == "embedded-photo-crops":
        from trainables.data.embedded_crops import classes

        return ClassScores(classes=tuple(classes()))
    return ClassScores(classes=tuple(f"class_{i:03d}" for i in range(n_classes(config))))


def _input_degradation(config: Config) -> dict[str, float]:
    """The middle σ of those it was trained on, in 0–255 units."""
    return {"noise_sigma": config.sigmas[len(config.sigmas) // 2] * 255.0}


SCHEME = Scheme(
    name="fidelity",
    description="Frozen clean-trained classifier calibrated under noise by fidelity-map modules (seed 004, Tables 5.1, 6.1)",
    Config=Config,
    prepare=prepare,
    train=train,
    build_model=build_model,
    model_io=_model_io,
    table=table,
    smoke=SMOKE,
    curves=curves,
    sweep_tables=sweep_rows,
    input_degradation=_input_degradation,
)

__all__ = ["SCHEME", "Config", "SMOKE", "build_model", "prepare", "train", "table", "curves"]
