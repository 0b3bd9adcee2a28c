"""The registered model: an ``mlflow.pyfunc`` that enhances (N, H, W, 3) images of any size.

Weights are a plain ``state_dict`` loaded with ``torch.load(weights_only=True)`` into the
architecture the scheme builds from its saved config, so no pickled code is trusted and any
image size works (unlike a torch.export graph with fixed shapes).
"""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import torch


class EnhancerModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context) -> None:
        from trainables.registry import get_scheme

        saved = json.loads(Path(context.artifacts["config"]).read_text())
        self.scheme = get_scheme(saved["scheme"])
        config = self.scheme.Config.from_dict(saved["config"])
        self.model = self.scheme.build_enhancer(config)
        self.model.load_state_dict(torch.load(context.artifacts["weights"], map_location="cpu", weights_only=True))
        self.model.eval()

    def predict(self, context, model_input, params=None) -> np.ndarray:
        """float32 in [0, 1] → float32; uint8 → uint8; shape (N, H, W, 3) in and out."""
        images = np.asarray(model_input)
        if images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f"expected images of shape (N, H, W, 3), got {images.shape}")
        is_uint8 = images.dtype == np.uint8
        x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))
        x = (x / 255.0 if is_uint8 else x).permute(0, 3, 1, 2)
        y = self.scheme.enhance(self.model, x).permute(0, 2, 3, 1).numpy()
        return np.round(y * 255.0).astype(np.uint8) if is_uint8 else y.astype(np.float32)


# Models from code: MLflow stores this file instead of a cloudpickle of the object.
mlflow.models.set_model(EnhancerModel())
