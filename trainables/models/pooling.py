"""Global pooling of a conv map without its layout, shared by the CNN retrieval backend and the
embedded landmark descriptor (Radenović et al.'s GeM and Tolias et al.'s MAC)."""

from __future__ import annotations

import torch


def gem(features: torch.Tensor, p: float = 3.0, eps: float = 1e-6) -> torch.Tensor:
    """Generalised-mean pooling over H and W: (N, C, H, W) → (N, C). p=1 is average, p→∞ is max."""
    return features.clamp(min=eps).pow(p).mean(dim=(2, 3)).pow(1.0 / p)


def mac(features: torch.Tensor) -> torch.Tensor:
    """Maximum activation of convolutions: spatial max per channel."""
    return features.amax(dim=(2, 3))
