"""What a scheme's registered model takes and returns, declared once by the scheme.

Everything downstream reads the declaration instead of assuming "an image in, the same image
size out": the pyfunc's input checks and output, its MLflow signature and input example, the
champion comparison in ``promote``, the fresh-process champion check, the demo and the shared
contract tests. Five kinds, each a small frozen dataclass:

- ``Images(scales)``: images → images ``s`` times larger (``(1,)``: a denoiser or deblurrer;
  ``(4,)``: a ×4 super-resolver; ``(2, 3, 4)``: one network serving three scales, MDSR-style,
  the scale chosen per call).
- ``ClassScores(classes)``: images → one probability per class (the model returns logits;
  softmax is applied here).
- ``Features(dim, extractor)``: ``dim``-d feature vectors → ``dim``-d feature vectors (a feature
  generator sitting between a frozen ``extractor`` and a retrieval index).
- ``Descriptors(dim, extractor, scale)``: images → one L2-normalised ``dim``-d retrieval
  descriptor each (a query-side extractor, ranked against a database described by
  ``extractor``; ``scale`` > 1: the query is that many times smaller, an SR enhancer in front).
- ``ScoreDistribution(scores)``: images → a probability per score bin (a NIMA-style judge
  whose model returns the distribution itself).

On the torch side images are float32 (N, 3, H, W) in [0, 1] and features float32 (N, D); the
numpy/MLflow side lives in ``sweeps.pyfunc_model``. No Ray, no MLflow here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import ClassVar

import torch
from torch import nn

from trainables.errors import UserInputError


@dataclass(frozen=True)
class ModelIO:
    """Base of the five kinds. ``takes``/``returns``: "images", "features" or "scores"."""

    kind: ClassVar[str] = ""
    takes: ClassVar[str] = "images"
    returns: ClassVar[str] = "scores"

    def input_shape(self, n: int = 1, h: int = 32, w: int = 32) -> tuple[int, ...]:
        """A torch input of this kind: (n, 3, h, w) images, or (n, D) features."""
        return (n, 3, h, w)

    def output_shape(self, input_shape: tuple[int, ...], scale: int | None = None) -> tuple[int, ...]:
        raise NotImplementedError

    def run(self, model: nn.Module, x: torch.Tensor, scale: int | None = None) -> torch.Tensor:
        """Inference in eval mode, no grad: ``x`` of ``input_shape`` → ``output_shape``."""
        model.eval()
        with torch.no_grad():
            return self._forward(model, x, self.pick_scale(scale))

    def _forward(self, model: nn.Module, x: torch.Tensor, scale: int | None) -> torch.Tensor:
        raise NotImplementedError

    def pick_scale(self, scale: int | None) -> int | None:
        if scale is not None:
            raise UserInputError(f"a {self.kind} model takes no scale, got scale={scale}")
        return None

    def to_dict(self) -> dict:
        return {"kind": self.kind, **{k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}}

    @staticmethod
    def from_dict(data: dict) -> "ModelIO":
        data = dict(data)
        cls = KINDS.get(data.pop("kind", None))
        if cls is None:
            raise ValueError(f"unknown model io kind in {data!r} (known: {', '.join(KINDS)})")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


@dataclass(frozen=True)
class Images(ModelIO):
    scales: tuple[int, ...] = (1,)
    kind: ClassVar[str] = "images"
    returns: ClassVar[str] = "images"

    def __post_init__(self):
        if not self.scales or any(int(s) != s or s < 1 for s in self.scales):
            raise ValueError(f"scales must be positive integers, got {self.scales}")

    @property
    def multi_scale(self) -> bool:
        """One network, several scales: the model's forward takes ``(x, scale)``."""
        return len(self.scales) > 1

    def pick_scale(self, scale: int | None) -> int:
        if scale is None:
            return self.scales[-1]
        if scale not in self.scales:
            raise UserInputError(f"scale {scale} is not served by this model (scales: {', '.join(map(str, self.scales))})")
        return int(scale)

    def output_shape(self, input_shape, scale=None):
        n, c, h, w = input_shape
        s = self.pick_scale(scale)
        return (n, c, h * s, w * s)

    def _forward(self, model, x, scale):
        return (model(x, scale) if self.multi_scale else model(x)).clamp(0, 1)


@dataclass(frozen=True)
class ClassScores(ModelIO):
    classes: tuple[str, ...] = ()
    kind: ClassVar[str] = "class_scores"

    def __post_init__(self):
        if len(self.classes) < 2:
            raise ValueError(f"a classifier needs two or more class names, got {self.classes}")

    def output_shape(self, input_shape, scale=None):
        return (input_shape[0], len(self.classes))

    def _forward(self, model, x, scale):
        return model(x).softmax(dim=1)


@dataclass(frozen=True)
class Features(ModelIO):
    dim: int = 0
    extractor: str = ""  # what produces the input features, e.g. "vgg16 fc7"
    kind: ClassVar[str] = "features"
    takes: ClassVar[str] = "features"
    returns: ClassVar[str] = "features"

    def __post_init__(self):
        if self.dim < 1 or not self.extractor:
            raise ValueError(f"features need a dimension and the extractor that produces them, got {self.dim}, {self.extractor!r}")

    def input_shape(self, n=1, h=0, w=0):
        return (n, self.dim)

    def output_shape(self, input_shape, scale=None):
        return (input_shape[0], self.dim)

    def _forward(self, model, x, scale):
        return model(x)


@dataclass(frozen=True)
class Descriptors(ModelIO):
    dim: int = 0
    extractor: str = ""  # what describes the database the descriptors are ranked against
    scale: int = 1  # how many times smaller than the database's images the query is
    kind: ClassVar[str] = "descriptors"
    returns: ClassVar[str] = "features"

    def __post_init__(self):
        if self.dim < 1 or not self.extractor or int(self.scale) != self.scale or self.scale < 1:
            raise ValueError(f"descriptors need a dimension, the database's extractor and a scale >= 1, "
                             f"got {self.dim}, {self.extractor!r}, {self.scale}")

    def output_shape(self, input_shape, scale=None):
        return (input_shape[0], self.dim)

    def _forward(self, model, x, scale):
        return model(x)


@dataclass(frozen=True)
class ScoreDistribution(ModelIO):
    scores: tuple[float, ...] = tuple(float(s) for s in range(1, 11))  # NIMA: 1..10
    kind: ClassVar[str] = "score_distribution"

    def output_shape(self, input_shape, scale=None):
        return (input_shape[0], len(self.scores))

    def _forward(self, model, x, scale):
        return model(x)  # a judge like NIMAHead already returns the distribution


KINDS: dict[str, type[ModelIO]] = {c.kind: c for c in (Images, ClassScores, Features, Descriptors, ScoreDistribution)}
