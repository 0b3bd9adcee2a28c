"""The registered model: an ``mlflow.pyfunc`` whose input and output are what the scheme declares.

Weights are a plain ``state_dict`` (``model.pt``) loaded with ``torch.load(weights_only=True)``
into the architecture the scheme builds from its saved config (``config.json``), so no pickled
code is trusted and any image size works (unlike a torch.export graph with fixed shapes). What
the model takes and returns is read from ``config.json``'s ``model_io`` (``trainables.model_io``):

- images in (``Images``, ``ClassScores``, ``ScoreDistribution``, ``Descriptors``): ``(N, H, W, 3)``,
  uint8 0–255 or float32 in [0, 1];
- images out: the input's dtype (uint8 rounded), ``s`` times the size; ``params={"scale": s}``
  picks one of several scales (default: the largest);
- class scores, score distributions: float32 ``(N, K)`` probabilities;
- features (``Features``): float32 ``(N, D)`` in, float32 ``(N, D)`` out;
- descriptors (``Descriptors``): float32 ``(N, D)``, unit rows.

``mlflow.pyfunc.load_model(uri).predict`` enforces the signature (``sweeps.pyfunc_spec``):
uint8 images or float32 features. Float32 images go through
``load_model(uri).unwrap_python_model().predict``, which skips MLflow's strict dtype check.
Inference runs on the CPU.
"""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import torch


class SchemeModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context) -> None:
        from trainables.model_io import ModelIO
        from trainables.registry import get_scheme

        saved = json.loads(Path(context.artifacts["config"]).read_text())
        scheme = get_scheme(saved["scheme"])
        self.model = scheme.build_model(scheme.Config.from_dict(saved["config"]))
        self.model.load_state_dict(torch.load(context.artifacts["weights"], map_location="cpu", weights_only=True))
        self.model.eval()
        self.io = ModelIO.from_dict(saved["model_io"])

    def predict(self, model_input: np.ndarray, params: dict | None = None) -> np.ndarray:
        """See the module docstring for shapes and dtypes; a wrong input is a ``ValueError``."""
        from trainables.errors import UserInputError

        data = np.asarray(model_input)
        if self.io.takes == "images":
            x, uint8 = images_to_tensor(data)
        else:
            x, uint8 = features_to_tensor(data, self.io.dim), False
        try:
            y = self.io.run(self.model, x, (params or {}).get("scale"))
        except UserInputError as e:  # e.g. a scale the model does not serve
            raise ValueError(str(e)) from None
        if self.io.returns == "images":
            return tensor_to_images(y, uint8)
        return y.float().numpy()


def images_to_tensor(images: np.ndarray) -> tuple[torch.Tensor, bool]:
    """(N, H, W, 3) uint8 or float32 in [0, 1] → (N, 3, H, W) float32 in [0, 1]; was it uint8?"""
    expected = "images of shape (N, H, W, 3), uint8 0-255 or float32 in [0, 1]"
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"expected {expected}, got shape {images.shape}")
    if images.dtype == np.uint8:
        return torch.from_numpy(images.astype(np.float32) / 255.0).permute(0, 3, 1, 2), True
    if images.dtype != np.float32:
        raise ValueError(f"expected {expected}, got dtype {images.dtype}")
    if images.size and (images.min() < 0.0 or images.max() > 1.0):
        raise ValueError(f"expected {expected}, got float32 values in [{images.min():g}, {images.max():g}]")
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2), False


def features_to_tensor(features: np.ndarray, dim: int) -> torch.Tensor:
    if features.ndim != 2 or features.shape[1] != dim or features.dtype != np.float32:
        raise ValueError(f"expected float32 features of shape (N, {dim}), got {features.dtype} {features.shape}")
    return torch.from_numpy(np.ascontiguousarray(features))


def tensor_to_images(y: torch.Tensor, uint8: bool) -> np.ndarray:
    """(N, 3, H, W) in [0, 1] → (N, H, W, 3): uint8 (rounded) or float32."""
    out = y.permute(0, 2, 3, 1).float().numpy()
    return np.round(out * 255.0).astype(np.uint8) if uint8 else out.astype(np.float32)


# Models from code: MLflow stores this file instead of a cloudpickle of the object.
mlflow.models.set_model(SchemeModel())
