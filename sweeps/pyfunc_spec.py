"""What MLflow is told about a registered model, all read from the scheme's ``model_io`` declaration.

- signature: images in as uint8 ``(-1, -1, -1, 3)``, so ``mlflow.pyfunc.load_model(uri)
  .predict(uint8_images)`` passes MLflow's check, which compares tensor dtypes strictly
  (``mlflow.models.utils._enforce_tensor_spec``); float32 images in [0, 1] go through
  ``unwrap_python_model().predict``. Images out uint8 ``(-1, -1, -1, 3)``; class scores and
  score distributions float32 ``(-1, K)``; features float32 ``(-1, D)`` in and out. Several
  scales: a ``scale`` param (long, default the largest);
- input example: a small uint8 image batch, or float32 features;
- metadata: the scheme and the declaration (class names included), so a client reads what the
  model returns from the model itself (``sweeps.champion_check`` does).

``pyfunc_arguments(folder)`` gives everything ``mlflow.pyfunc.log_model``/``save_model`` need for
a checkpoint folder; ``promote`` and the model-contract test both use it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sweeps.checkpoint import CONFIG_FILE, MODEL_FILE, read_model_config
from trainables.model_io import Images, ModelIO

MODEL_CODE = Path(__file__).with_name("pyfunc_model.py")
IMAGES_SHAPE = (-1, -1, -1, 3)


def _width(io: ModelIO) -> int:
    """K scores or D features per row: the last axis of the declared output."""
    return io.output_shape(io.input_shape(1))[-1]


def signature(io: ModelIO):
    from mlflow.models import ModelSignature
    from mlflow.types.schema import ParamSchema, ParamSpec, Schema, TensorSpec

    uint8, float32 = np.dtype(np.uint8), np.dtype(np.float32)
    if io.takes == "images":
        inputs = TensorSpec(uint8, IMAGES_SHAPE)
    else:
        inputs = TensorSpec(float32, (-1, io.input_shape(1)[-1]))
    outputs = TensorSpec(uint8, IMAGES_SHAPE) if io.returns == "images" else TensorSpec(float32, (-1, _width(io)))
    params = None
    if isinstance(io, Images) and io.multi_scale:
        params = ParamSchema([ParamSpec("scale", "long", default=max(io.scales))])
    return ModelSignature(inputs=Schema([inputs]), outputs=Schema([outputs]), params=params)


def input_example(io: ModelIO) -> np.ndarray:
    rng = np.random.default_rng(0)
    if io.takes == "images":
        return rng.integers(0, 256, (1, 24, 24, 3), dtype=np.uint8)
    return rng.random(io.input_shape(2), dtype=np.float32)


def metadata(scheme: str, io: ModelIO) -> dict[str, Any]:
    return {"tasksweep_scheme": scheme, "model_io": io.to_dict()}


def io_of(model_metadata: dict | None) -> ModelIO:
    """The declaration back from a loaded model's ``metadata.metadata``."""
    if not model_metadata or "model_io" not in model_metadata:
        raise ValueError("this model's metadata has no 'model_io': it was not registered by tasksweep promote")
    return ModelIO.from_dict(model_metadata["model_io"])


def pyfunc_arguments(folder: str | Path) -> dict[str, Any]:
    """Keyword arguments of ``mlflow.pyfunc.save_model``/``log_model`` for a checkpoint folder."""
    folder = Path(folder)
    saved = read_model_config(folder)
    io = ModelIO.from_dict(saved["model_io"])
    return {"python_model": str(MODEL_CODE), "signature": signature(io), "input_example": input_example(io),
            "metadata": metadata(saved["scheme"], io),
            "artifacts": {"weights": str(folder / MODEL_FILE), "config": str(folder / CONFIG_FILE)}}
