"""Batched image degradations: noise, blur, salt & pepper, MATLAB bicubic resize, JPEG.

Images are float32 tensors ``(N, C, H, W)`` in [0, 1] (RGB or 1-channel). Every random op takes
an explicit seeded ``torch.Generator``; noise is drawn on the generator's device and then moved,
so a CPU generator gives the same degradation whatever device the images live on. Noise σ is in
0–255 units. Noise, blur, resize and JPEG are differentiable (JPEG via kornia's codec).

Schemes pick a degradation by name through :func:`get_degradation`; each entry of
:data:`DEGRADATIONS` has the signature ``(x, level, generator) -> x``.
"""

from __future__ import annotations

import math
from typing import Callable, Literal

import kornia
import torch

from trainables.errors import UserInputError

__all__ = [
    "DEGRADATIONS",
    "awgn",
    "bicubic_degrade",
    "blur_kernel_size",
    "gaussian_blur",
    "get_degradation",
    "imresize",
    "jpeg",
    "motion_blur",
    "noise_ramp_map",
    "quantise",
    "salt_and_pepper",
    "spatially_varying_awgn",
]

Tensor = torch.Tensor


# ---------------------------------------------------------------- noise


def _randn_like(x: Tensor, generator: torch.Generator) -> Tensor:
    return torch.randn(x.shape, generator=generator, device=generator.device).to(x.device, x.dtype)


def _add_noise(x: Tensor, sigma255: Tensor, generator: torch.Generator, clip: bool) -> Tensor:
    y = x + (sigma255 / 255.0) * _randn_like(x, generator)
    return y.clamp(0.0, 1.0) if clip else y


def awgn(x: Tensor, sigma: float | Tensor, generator: torch.Generator, clip: bool = True) -> Tensor:
    """Additive white Gaussian noise, independent per pixel and channel.

    ``sigma`` is in 0–255 units: a float, or a tensor of shape ``(N,)`` with one σ per image.
    With ``clip`` the result is clamped to [0, 1] (the usual 8-bit-style simulation).
    """
    s = torch.as_tensor(sigma, dtype=x.dtype, device=x.device)
    if s.ndim == 1:
        s = s.view(-1, 1, 1, 1)
    return _add_noise(x, s, generator, clip)


def noise_ramp_map(
    h: int,
    w: int,
    sigma_min: float,
    sigma_max: float,
    kind: Literal["1d", "2d"] = "1d",
    generator: torch.Generator | None = None,
) -> Tensor:
    """Per-pixel σ map ``(H, W)`` (0–255 units) for the spatially varying noise of seed 004.

    ``"1d"``: σ rises linearly from ``sigma_min`` at the first column to ``sigma_max`` at the
    last (with a generator, rows or columns are chosen at random, as in the paper). ``"2d"``: σ
    rises linearly with the Euclidean distance to a point, from ``sigma_min`` at the point to
    ``sigma_max`` at the farthest pixel; the point is the image centre, or a uniformly random
    pixel with a generator.
    """
    ys = torch.arange(h, dtype=torch.float32).view(-1, 1)
    xs = torch.arange(w, dtype=torch.float32).view(1, -1)
    if kind == "1d":
        coin = torch.rand(1, generator=generator, device=generator.device) if generator is not None else None
        along_rows = coin is not None and bool(coin < 0.5)
        # max(n - 1, 1) keeps a 1-pixel axis at sigma_min instead of dividing by zero
        t = (ys / max(h - 1, 1)).expand(h, w) if along_rows else (xs / max(w - 1, 1)).expand(h, w)
    elif kind == "2d":
        if generator is None:
            cy, cx = (h - 1) / 2, (w - 1) / 2
        else:
            # a random pixel (not a sub-pixel point), so sigma_min itself occurs in the map
            cy = int(torch.randint(h, (1,), generator=generator, device=generator.device))
            cx = int(torch.randint(w, (1,), generator=generator, device=generator.device))
        d = torch.sqrt((ys - cy) ** 2 + (xs - cx) ** 2)
        t = d / d.max().clamp_min(1e-12)
    else:
        raise UserInputError(f"noise_ramp_map kind must be '1d' or '2d', got {kind!r}")
    return sigma_min + (sigma_max - sigma_min) * t


def spatially_varying_awgn(x: Tensor, sigma_map: Tensor, generator: torch.Generator, clip: bool = True) -> Tensor:
    """AWGN whose σ (0–255 units) varies per pixel; ``sigma_map`` broadcasts to ``x``
    (``(H, W)``, ``(N, 1, H, W)`` or ``(N, C, H, W)``), e.g. from :func:`noise_ramp_map`."""
    return _add_noise(x, sigma_map.to(x.device, x.dtype), generator, clip)


def salt_and_pepper(
    x: Tensor, amount: float, generator: torch.Generator, salt_vs_pepper: float = 0.5
) -> Tensor:
    """Replace a fraction ``amount`` of values with 1 (salt) or 0 (pepper), independently per
    channel as in seed 004; ``salt_vs_pepper`` is the share of replaced values set to 1."""
    u = torch.rand((2, *x.shape), generator=generator, device=generator.device).to(x.device)
    hit, salt = u[0] < amount, u[1] < salt_vs_pepper
    return torch.where(hit, salt.to(x.dtype), x)


# ---------------------------------------------------------------- blur


def blur_kernel_size(sigma: float, rule: Literal["qrnet", "fidelity"] = "qrnet") -> int:
    """Gaussian kernel size for a blur σ under a paper's rule.

    ``"qrnet"`` (seed 003): "four times minus one of σ_b" (σ=2,4,...,10 → 7,15,...,39), rounded
    to the nearest odd integer, at least 3. ``"fidelity"`` (seed 004): a fixed size of 13.
    """
    if rule == "qrnet":
        k = 4.0 * sigma - 1.0
        return max(3, 2 * math.floor((k - 1.0) / 2.0 + 0.5) + 1)
    if rule == "fidelity":
        return 13
    raise UserInputError(f"blur kernel rule must be 'qrnet' or 'fidelity', got {rule!r}")


def gaussian_blur(
    x: Tensor,
    sigma: float,
    kernel_size: int | None = None,
    rule: Literal["qrnet", "fidelity"] = "qrnet",
) -> Tensor:
    """Isotropic Gaussian blur with reflect borders; the kernel size is ``kernel_size`` if given,
    else :func:`blur_kernel_size` under ``rule``. Reflect padding needs H, W > kernel_size // 2."""
    k = kernel_size if kernel_size is not None else blur_kernel_size(sigma, rule)
    return kornia.filters.gaussian_blur2d(x, (k, k), (float(sigma), float(sigma)), border_type="reflect")


def motion_blur(x: Tensor, kernel_size: int, angle: float, direction: float = 0.0) -> Tensor:
    """Linear motion blur (kornia's motion kernel) of odd length ``kernel_size`` at ``angle``
    degrees (anti-clockwise); ``direction`` in [-1, 1] skews the streak backward/forward."""
    if kernel_size < 3 or kernel_size % 2 == 0:
        raise UserInputError(f"motion blur kernel_size must be an odd integer >= 3, got {kernel_size}")
    return kornia.filters.motion_blur(x, int(kernel_size), float(angle), float(direction), border_type="reflect")


# ---------------------------------------------------------------- MATLAB bicubic imresize


def _cubic(t: Tensor) -> Tensor:
    # Keys cubic with a = -0.5, MATLAB's imresize kernel
    a = t.abs()
    return (1.5 * a**3 - 2.5 * a**2 + 1) * (a <= 1) + (-0.5 * a**3 + 2.5 * a**2 - 4 * a + 2) * ((a > 1) & (a <= 2))


def _resize_matrix(n_in: int, n_out: int, scale: float) -> Tensor:
    """Dense ``(n_out, n_in)`` matrix equal to MATLAB imresize's contributions() along one axis."""
    width = 4.0
    if scale < 1:  # antialiasing: stretch the kernel so it low-passes before decimating
        width = width / scale
    x = torch.arange(1, n_out + 1, dtype=torch.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)  # 1-based input coordinate of each output pixel centre
    left = torch.floor(u - width / 2)
    idx = left[:, None] + torch.arange(math.ceil(width) + 2, dtype=torch.float64)[None, :]
    d = u[:, None] - idx
    wts = scale * _cubic(scale * d) if scale < 1 else _cubic(d)
    wts = wts / wts.sum(dim=1, keepdim=True)
    # MATLAB pads symmetrically (edge pixel repeated): fold out-of-range indices back inside
    period = 2 * n_in
    j = torch.remainder(idx.long() - 1, period)
    j = torch.where(j < n_in, j, period - 1 - j)
    return torch.zeros(n_out, n_in, dtype=torch.float64).scatter_add_(1, j, wts)


def imresize(x: Tensor, scale: float | None = None, size: tuple[int, int] | None = None) -> Tensor:
    """MATLAB-compatible bicubic ``imresize`` on a batch (no uint8 rounding; output not clipped).

    Give ``scale`` (output size ``ceil(scale * in)``, MATLAB's rule) or ``size=(H_out, W_out)``
    (per-axis scale ``out / in``, also MATLAB's rule). Downscaling antialiases as MATLAB does.
    """
    h, w = x.shape[-2:]
    if size is None:
        if scale is None or scale <= 0:
            raise UserInputError(f"imresize needs a positive scale or an output size, got scale={scale}")
        # the 1e-9 guards products like 48 * (1/3) that land just above an integer
        size = (math.ceil(h * scale - 1e-9), math.ceil(w * scale - 1e-9))
        sh = sw = float(scale)
    else:
        sh, sw = size[0] / h, size[1] / w
    mh = _resize_matrix(h, size[0], sh).to(x.device, x.dtype)
    mw = _resize_matrix(w, size[1], sw).to(x.device, x.dtype)
    # MATLAB resizes the smaller-scale axis first; with no uint8 rounding between the passes the
    # order only changes float rounding, so apply both as matrix products
    return mh @ x @ mw.T


def quantise(x: Tensor) -> Tensor:
    """To 8-bit levels, clipped: what a saved photo or a user's image file holds."""
    return x.clamp(0, 1).mul(255).round().div(255)


def bicubic_degrade(x: Tensor, scale: float) -> Tensor:
    """The SR input at HR size: MATLAB bicubic down by ``scale``, then back up to ``(H, W)``.
    Crop HR images to a multiple of ``scale`` first to match the papers' LR exactly."""
    h, w = x.shape[-2:]
    return imresize(imresize(x, 1.0 / scale), size=(h, w))


# ---------------------------------------------------------------- JPEG


def jpeg(x: Tensor, quality: float | Tensor) -> Tensor:
    """JPEG encode/decode with kornia's differentiable codec (standard tables).

    ``quality`` in [0, 100]: a float or a ``(N,)`` tensor. 1-channel images are coded as grey RGB
    and averaged back. Output is clamped to [0, 1].
    """
    q = torch.as_tensor(quality, dtype=x.dtype, device=x.device).reshape(-1)
    grey = x.shape[1] == 1
    y = kornia.enhance.jpeg_codec_differentiable(x.expand(-1, 3, -1, -1) if grey else x, q)
    if grey:
        y = y.mean(dim=1, keepdim=True)
    return y.clamp(0.0, 1.0)


# ---------------------------------------------------------------- by name


DEGRADATIONS: dict[str, Callable[[Tensor, float, torch.Generator], Tensor]] = {
    # level: σ in 0–255 units
    "awgn": lambda x, level, generator: awgn(x, level, generator),
    # level: σ; kernel size by the qrnet rule (use gaussian_blur directly for another rule)
    "gaussian_blur": lambda x, level, generator: gaussian_blur(x, level, rule="qrnet"),
    # level: odd kernel length; seed 004 uses only 45° motion
    "motion_blur": lambda x, level, generator: motion_blur(x, int(level), angle=45.0),
    # level: fraction of replaced values
    "salt_and_pepper": lambda x, level, generator: salt_and_pepper(x, level, generator),
    # level: SR scale factor; the output stays at the input size
    "bicubic": lambda x, level, generator: bicubic_degrade(x, level),
    # level: JPEG quality
    "jpeg": lambda x, level, generator: jpeg(x, level),
}


def get_degradation(name: str) -> Callable[[Tensor, float, torch.Generator], Tensor]:
    """The ``(x, level, generator) -> x`` degradation called ``name`` in :data:`DEGRADATIONS`."""
    try:
        return DEGRADATIONS[name]
    except KeyError:
        raise UserInputError(
            f"unknown degradation {name!r}; valid names: {', '.join(sorted(DEGRADATIONS))}"
        ) from None
