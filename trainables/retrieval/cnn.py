"""CNN global-descriptor retrieval: conv trunk → GeM or MAC pooling → L2-normalised vector.

Ranking is by cosine similarity (a dot product of unit vectors), as in Radenović et al.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from trainables.models.descriptor import MAX_SIDE, shrink_to
from trainables.models.pooling import gem, mac


class CnnBackend:
    """Global descriptors from any conv trunk taking [0, 1] RGB.

    ``trainables.models.feature_extractor(name)`` gives such trunks (ImageNet normalisation
    included) with local weights; the trunk maps (1, 3, H, W) to (1, C, h, w).
    """

    name = "cnn"

    def __init__(self, trunk: nn.Module, pooling: str = "gem", gem_p: float = 3.0, max_side: int = MAX_SIDE, device: str = "cpu"):
        if pooling not in ("gem", "mac"):
            raise ValueError(f"pooling must be 'gem' or 'mac', not {pooling!r}")
        self.trunk = trunk.eval().to(device)
        self.pooling, self.gem_p, self.max_side, self.device = pooling, gem_p, max_side, device
        self._db = np.zeros((0, 0), np.float32)

    def cache_key(self) -> dict:
        # Weights change the descriptors, so they are part of the key.
        digest = torch.cat([p.detach().flatten().cpu()[:1000] for p in self.trunk.parameters()]).sum().item()
        return {"backend": self.name, "pooling": self.pooling, "gem_p": self.gem_p, "max_side": self.max_side,
                "trunk": type(self.trunk).__name__, "weights": round(digest, 6)}

    @torch.no_grad()
    def describe(self, image_rgb: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(image_rgb).permute(2, 0, 1)[None].float().div(255).to(self.device)
        fmap = self.trunk(shrink_to(x, self.max_side))
        pooled = gem(fmap, self.gem_p) if self.pooling == "gem" else mac(fmap)
        return F.normalize(pooled, dim=1)[0].cpu().numpy()

    def describe_database(self, images) -> np.ndarray:
        return np.stack([self.describe(img) for img in images])

    def set_database(self, features: np.ndarray) -> None:
        self._db = np.asarray(features, np.float32)

    def with_trunk(self, trunk: nn.Module) -> "CnnBackend":
        """The same database descriptors, queries described by another ``trunk`` (seed 000 §5:
        tweaked query features ranked against the original index)."""
        other = CnnBackend(trunk, self.pooling, self.gem_p, self.max_side, self.device)
        other.set_database(self._db)
        return other

    def scores(self, query_image: np.ndarray, positives=None, junk=None) -> np.ndarray:
        """Similarity to every database image; ``positives``/``junk`` (the local-feature backends'
        hint for skipping RANSAC) change nothing here, so any backend answers one call."""
        return self._db @ self.describe(query_image)
