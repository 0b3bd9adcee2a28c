import math

import cv2
import numpy as np
import pytest
import skimage.data
import torch

from trainables.data import degradations as D
from trainables.errors import UserInputError


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def grey(n=2, c=3, h=64, w=64, value=0.5) -> torch.Tensor:
    return torch.full((n, c, h, w), value)


# ---------------------------------------------------------------- numpy port of MATLAB imresize


def _np_cubic(x):
    a = np.abs(x)
    return (1.5 * a**3 - 2.5 * a**2 + 1) * (a <= 1) + (-0.5 * a**3 + 2.5 * a**2 - 4 * a + 2) * ((a > 1) & (a <= 2))


def _np_contributions(in_len, out_len, scale):
    """Line-by-line port of MATLAB imresize's contributions() (bicubic, antialiasing on)."""
    kernel_width = 4.0
    if scale < 1:
        h = lambda x: scale * _np_cubic(scale * x)  # noqa: E731
        kernel_width = kernel_width / scale
    else:
        h = _np_cubic
    x = np.arange(1, out_len + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - kernel_width / 2)
    p = int(math.ceil(kernel_width)) + 2
    indices = left[:, None] + np.arange(p)[None, :]
    weights = h(u[:, None] - indices)
    weights = weights / weights.sum(axis=1, keepdims=True)
    aux = np.concatenate([np.arange(1, in_len + 1), np.arange(in_len, 0, -1)])
    indices = aux[np.mod(indices.astype(int) - 1, len(aux))]
    keep = np.any(weights != 0, axis=0)
    return weights[:, keep], indices[:, keep] - 1


def _np_resize_along(a, axis, out_len, scale):
    weights, indices = _np_contributions(a.shape[axis], out_len, scale)
    a = np.moveaxis(a, axis, -1)
    out = np.zeros(a.shape[:-1] + (out_len,))
    for i in range(out_len):  # MATLAB's resizeAlongDim: weighted gather, one output pixel at a time
        out[..., i] = (a[..., indices[i]] * weights[i]).sum(axis=-1)
    return np.moveaxis(out, -1, axis)


def np_imresize(a, scale):
    h, w = a.shape[-2:]
    a = _np_resize_along(a, -2, math.ceil(h * scale), scale)
    return _np_resize_along(a, -1, math.ceil(w * scale), scale)


@pytest.mark.parametrize("scale,h,w", [(0.25, 48, 40), (0.25, 37, 50), (2, 13, 17), (4, 9, 11), (0.5, 20, 21)])
def test_imresize_matches_matlab_port(scale, h, w):
    x = np.random.default_rng(0).random((2, 3, h, w))
    ref = np_imresize(x, scale)
    out = D.imresize(torch.from_numpy(x), scale)
    assert out.shape == ref.shape
    np.testing.assert_allclose(out.numpy(), ref, atol=1e-5)
    out32 = D.imresize(torch.from_numpy(x).float(), scale)
    np.testing.assert_allclose(out32.numpy(), ref, atol=1e-5)


def test_imresize_hand_checked_values():
    # Worked by hand from MATLAB's algorithm (not the code under test). Down ×0.5 of [1 2 3 4]:
    # u = 1.5, antialiased kernel 0.5·cubic(0.5 t) gives weights (-0.0234375, -0.0703125,
    # 0.2265625, 0.8671875, mirrored) / 2 on indices -2..5, folded symmetrically onto 3 2 1 1 2 3 4 4.
    # Up ×2 of [0 1]: u = 0.75, weights (-0.0234375, 0.2265625, 0.8671875, -0.0703125) on
    # indices -1..2 folded onto 1 0 0 1.
    x = torch.tensor([[[[1.0, 2.0, 3.0, 4.0]]]], dtype=torch.float64)
    down = D.imresize(x, size=(1, 2)).flatten()
    torch.testing.assert_close(down, torch.tensor([1.4609375, 3.5390625], dtype=torch.float64))
    torch.testing.assert_close(D.imresize(x.expand(1, 1, 2, 4), 0.5)[0, 0, 0], down)
    up = D.imresize(torch.tensor([[[[0.0, 1.0]]]], dtype=torch.float64), size=(1, 4)).flatten()
    torch.testing.assert_close(up, torch.tensor([-0.09375, 0.203125, 0.796875, 1.09375], dtype=torch.float64))


@pytest.mark.parametrize("scale", [0.25, 0.5, 2, 4])
def test_imresize_constant_and_ramp(scale):
    const = torch.full((1, 1, 24, 24), 0.37, dtype=torch.float64)
    torch.testing.assert_close(D.imresize(const, scale), torch.full_like(D.imresize(const, scale), 0.37))
    # the a=-0.5 cubic reproduces linear functions, so a ramp stays a ramp away from the borders
    ramp = torch.arange(32, dtype=torch.float64).view(1, 1, 1, 32).expand(1, 1, 8, 32)
    out = D.imresize(ramp, scale)[0, 0, 0]
    n = out.numel()
    xs = torch.arange(1, n + 1, dtype=torch.float64) / scale + 0.5 * (1 - 1 / scale) - 1
    m = int(math.ceil(2 / min(scale, 1))) + 1  # pixels the (stretched) kernel reaches past the border
    sl = slice(math.ceil(m * scale), n - math.ceil(m * scale))
    torch.testing.assert_close(out[sl], xs[sl])


def test_bicubic_degrade_shape_and_blurs():
    x = torch.rand(2, 3, 32, 32, generator=gen())
    y = D.bicubic_degrade(x, 4)
    assert y.shape == x.shape
    assert y.var() < x.var()
    c = grey(h=32, w=32)
    torch.testing.assert_close(D.bicubic_degrade(c, 4), c)


# ---------------------------------------------------------------- noise


def test_awgn_std_matches_sigma():
    x = grey(n=4, h=128, w=128)
    for sigma in (5.0, 25.0, 50.0):
        noise = D.awgn(x, sigma, gen(1), clip=False) - x
        assert abs(noise.std().item() - sigma / 255) < 0.01 * sigma / 255
        assert abs(noise.mean().item()) < 0.01 * sigma / 255


def test_awgn_per_image_sigma_and_clip():
    x = grey(n=3, h=96, w=96)
    sigma = torch.tensor([0.0, 10.0, 60.0])
    noise = D.awgn(x, sigma, gen(), clip=False) - x
    stds = noise.flatten(1).std(dim=1)
    torch.testing.assert_close(stds, sigma / 255, atol=2e-3, rtol=0.02)
    y = D.awgn(x, 200.0, gen())
    assert y.min() >= 0 and y.max() <= 1


def test_random_ops_reproducible():
    x = torch.rand(2, 3, 16, 16, generator=gen(5))
    ops = [
        lambda g: D.awgn(x, 25.0, g),
        lambda g: D.salt_and_pepper(x, 0.1, g),
        lambda g: D.spatially_varying_awgn(x, D.noise_ramp_map(16, 16, 0, 50), g),
    ]
    for op in ops:
        assert torch.equal(op(gen(3)), op(gen(3)))
        assert not torch.equal(op(gen(3)), op(gen(4)))


def test_salt_and_pepper_fraction():
    x = grey(n=2, h=128, w=128)
    for amount in (0.05, 0.3):
        y = D.salt_and_pepper(x, amount, gen(), salt_vs_pepper=0.25)
        changed = y != x
        assert abs(changed.float().mean().item() - amount) < 0.01
        assert abs((y[changed] == 1).float().mean().item() - 0.25) < 0.03
        assert set(y[changed].unique().tolist()) <= {0.0, 1.0}


def test_noise_ramp_map_ends():
    m = D.noise_ramp_map(20, 30, 5.0, 50.0, kind="1d")
    assert m.shape == (20, 30)
    torch.testing.assert_close(m[:, 0], torch.full((20,), 5.0))
    torch.testing.assert_close(m[:, -1], torch.full((20,), 50.0))
    assert (m.diff(dim=1) > 0).all() and (m.diff(dim=0) == 0).all()

    m2 = D.noise_ramp_map(21, 31, 0.0, 40.0, kind="2d")
    assert m2[10, 15] == 0.0 and m2.argmin() == 10 * 31 + 15
    torch.testing.assert_close(m2.max(), torch.tensor(40.0))
    assert m2[0, 0] == m2.max() and m2[-1, -1] == m2.max()

    for kind in ("1d", "2d"):  # random orientation/point still spans [min, max]
        for seed in range(4):
            r = D.noise_ramp_map(16, 24, 2.0, 30.0, kind=kind, generator=gen(seed))
            torch.testing.assert_close(r.min(), torch.tensor(2.0))
            torch.testing.assert_close(r.max(), torch.tensor(30.0))
    with pytest.raises(UserInputError):
        D.noise_ramp_map(4, 4, 0, 1, kind="3d")


def test_spatially_varying_awgn_follows_map():
    x = grey(n=8, c=3, h=64, w=64)
    sigma_map = D.noise_ramp_map(64, 64, 0.0, 60.0)
    noise = D.spatially_varying_awgn(x, sigma_map, gen(), clip=False) - x
    col_std = noise.permute(3, 0, 1, 2).reshape(64, -1).std(dim=1)
    assert col_std[0] == 0
    torch.testing.assert_close(col_std[-4:], torch.full((4,), 60 / 255), rtol=0.1, atol=0)


# ---------------------------------------------------------------- blur / jpeg


def test_blur_kernel_size_rules():
    assert [D.blur_kernel_size(s, "qrnet") for s in (2, 4, 6, 8, 10)] == [7, 15, 23, 31, 39]
    assert D.blur_kernel_size(0.5, "qrnet") == 3
    assert D.blur_kernel_size(1.3, "qrnet") % 2 == 1
    assert D.blur_kernel_size(3.7, "fidelity") == 13
    with pytest.raises(UserInputError):
        D.blur_kernel_size(2, "nope")


@pytest.mark.parametrize(
    "blur",
    [
        lambda x: D.gaussian_blur(x, 2.0),
        lambda x: D.gaussian_blur(x, 1.5, rule="fidelity"),
        lambda x: D.gaussian_blur(x, 1.0, kernel_size=5),
        lambda x: D.motion_blur(x, 7, 45.0),
    ],
)
def test_blur_keeps_constant_lowers_noise(blur):
    c = grey(h=40, w=40, value=0.3)
    torch.testing.assert_close(blur(c), c)
    noisy = D.awgn(c, 30.0, gen(), clip=False)
    assert blur(noisy).var() < 0.5 * noisy.var()


def test_motion_blur_rejects_even_length():
    with pytest.raises(UserInputError):
        D.motion_blur(grey(), 4, 45.0)


def test_jpeg_quality_orders_error_and_matches_opencv():
    rgb = skimage.data.astronaut()[:96, :96]
    x = torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255
    err = {q: (D.jpeg(x, q) - x).abs().mean().item() for q in (10, 90)}
    assert err[10] > 2 * err[90] > 0
    # kornia's differentiable codec should approximate a real libjpeg round trip at the same quality
    _, buf = cv2.imencode(".jpg", np.ascontiguousarray(rgb[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, 10])
    ref = torch.from_numpy(cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1].copy()).permute(2, 0, 1)[None] / 255
    assert (D.jpeg(x, 10) - ref).abs().mean() < 0.5 * err[10]
    g = x[:, :1]
    y = D.jpeg(g, 10)
    assert y.shape == g.shape and 0 <= y.min() and y.max() <= 1


# ---------------------------------------------------------------- gradients and by-name lookup


@pytest.mark.parametrize(
    "op",
    [
        lambda x: D.awgn(x, 10.0, gen()),
        lambda x: D.gaussian_blur(x, 1.0),
        lambda x: D.imresize(x, 0.5),
        lambda x: D.bicubic_degrade(x, 2),
        lambda x: D.jpeg(x, 50.0),
    ],
)
def test_gradients_flow(op):
    x = torch.rand(1, 3, 16, 16, generator=gen()).mul(0.8).add(0.1).requires_grad_()
    op(x).square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


@pytest.mark.parametrize("name,level", [
    ("awgn", 25.0), ("gaussian_blur", 2.0), ("motion_blur", 5), ("salt_and_pepper", 0.1),
    ("bicubic", 4), ("jpeg", 20),
])
def test_degradations_by_name(name, level):
    x = torch.rand(2, 3, 32, 32, generator=gen())
    y = D.get_degradation(name)(x, level, gen(1))
    assert y.shape == x.shape and y.dtype == x.dtype
    assert not torch.equal(y, x)


def test_unknown_degradation_lists_valid_names():
    with pytest.raises(UserInputError, match="awgn.*bicubic.*gaussian_blur.*jpeg.*motion_blur.*salt_and_pepper"):
        D.get_degradation("fog")
