"""Tiny complete schemes for tests: the real contract and loop, networks of a few hundred weights.

One per ``model_io`` kind the paper schemes do not cover yet, so the launcher, the pyfunc, the
signature and the champion check are tested on every kind:

- ``toy_upscale2``: ``Images((2,))``, a conv + PixelShuffle ×2;
- ``toy_multiscale``: ``Images((2, 3))``, one body and a head per scale, ``forward(x, scale)``;
- ``toy_classify``: ``ClassScores(("cat", "dog", "bird"))``;
- ``toy_features``: ``Features(8, "toy extractor")``;
- ``toy_judge``: ``ScoreDistribution()``, a NIMA-style judge returning 10 score probabilities.

Each trains ``steps_per_epoch`` SGD steps per epoch on random tensors drawn from an explicit
``torch.Generator`` whose state ``trainables.loop.run_epochs`` checkpoints, so a resumed run
equals an uninterrupted one. They have no stages. ``TOYS`` is not in ``SCHEMES``: a test adds
them for its own duration (``monkeypatch.setitem``), a fresh process calls ``register()`` first.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from trainables.contract import Scheme, SchemeConfig
from trainables.loop import Trainees, run_epochs
from trainables.model_io import ClassScores, Features, Images, ModelIO, ScoreDistribution

SMOKE = {"epochs": 2, "steps_per_epoch": 2}


@dataclass
class ToyConfig(SchemeConfig):
    epochs: int = 3
    steps_per_epoch: int = 3
    lr: float = 0.05
    width: int = 4
    seed: int = 0


class Upscale(nn.Module):
    """A conv to 3·s² channels and a PixelShuffle(s): images s times larger."""

    def __init__(self, scale: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 3 * scale * scale, 3, padding=1), nn.PixelShuffle(scale))

    def forward(self, x):
        return self.body(x)


class MultiScale(nn.Module):
    """A shared conv and one ``Upscale`` head per scale (MDSR's shape, in miniature)."""

    def __init__(self, scales: tuple[int, ...]):
        super().__init__()
        self.body = nn.Conv2d(3, 3, 3, padding=1)
        self.heads = nn.ModuleDict({str(s): Upscale(s) for s in scales})

    def forward(self, x, scale: int):
        return self.heads[str(scale)](x + self.body(x))


def classifier(config: ToyConfig, outputs: int = 3) -> nn.Sequential:
    """Any image size in, ``outputs`` logits out."""
    return nn.Sequential(nn.Conv2d(3, config.width, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(config.width, outputs))


def judge(config: ToyConfig) -> nn.Module:
    """Like NIMA: the model itself returns the distribution over 10 scores."""
    return nn.Sequential(classifier(config, 10), nn.Softmax(dim=1))


def _images(g: torch.Generator, device) -> torch.Tensor:
    return torch.rand(4, 3, 8, 8, generator=g).to(device)


def upscale_loss(net, g, device):
    x = _images(g, device)
    return F.mse_loss(net(x), F.interpolate(x, scale_factor=2, mode="nearest"))


def multiscale_loss(net, g, device):
    x = _images(g, device)
    return sum(F.mse_loss(net(x, s), F.interpolate(x, scale_factor=s, mode="nearest")) for s in (2, 3))


def classify_loss(net, g, device):
    x, y = _images(g, device), torch.randint(0, 3, (4,), generator=g).to(device)
    return F.cross_entropy(net(x), y)


def judge_loss(net, g, device):
    x, target = _images(g, device), torch.randn(4, 10, generator=g).softmax(dim=1).to(device)
    return -(target * net(x).clamp_min(1e-8).log()).sum(dim=1).mean()


def features_loss(net, g, device):
    x = torch.randn(4, 8, generator=g).to(device)
    return F.mse_loss(net(x), x)


def toy(name: str, io: ModelIO, build, loss) -> Scheme:
    """A scheme that trains ``build(config)`` on ``loss(net, generator, device)`` of random batches."""

    def train(config: ToyConfig, stages, device, resume, report) -> None:
        with torch.random.fork_rng():  # seeded initial weights, without touching the caller's RNG
            torch.manual_seed(config.seed)
            net = build(config).to(device)
        opt = torch.optim.SGD(net.parameters(), lr=config.lr)
        data = torch.Generator().manual_seed(config.seed)

        def one_epoch(epoch: int) -> dict[str, float]:
            net.train()
            for _ in range(config.steps_per_epoch):
                opt.zero_grad()
                train_loss = loss(net, data, device)
                train_loss.backward()
                opt.step()
            net.eval()
            with torch.no_grad():
                val_loss = loss(net, torch.Generator().manual_seed(1234), device)
            return {"train_loss": train_loss.item(), "val_loss": val_loss.item()}

        run_epochs(config.epochs, Trainees({"net": net}, "net", {"sgd": opt}, {"data": data}), one_epoch, report, resume)

    return Scheme(name=name, description=f"test-only toy: {io.kind}", Config=ToyConfig,
                  prepare=lambda config, device, progress: {}, train=train, build_model=build,
                  model_io=lambda config: io, table=lambda metrics: [{"metric": k, "value": v} for k, v in sorted(metrics.items())],
                  smoke=SMOKE)


TOYS: dict[str, Scheme] = {s.name: s for s in (
    toy("toy_upscale2", Images(scales=(2,)), lambda c: Upscale(2), upscale_loss),
    toy("toy_multiscale", Images(scales=(2, 3)), lambda c: MultiScale((2, 3)), multiscale_loss),
    toy("toy_classify", ClassScores(("cat", "dog", "bird")), classifier, classify_loss),
    toy("toy_features", Features(8, "toy extractor"), lambda c: nn.Linear(8, 8), features_loss),
    toy("toy_judge", ScoreDistribution(), judge, judge_loss),
)}


def register() -> None:
    """Add the toys to ``trainables.registry.SCHEMES`` for the rest of this process."""
    from trainables.registry import SCHEMES

    SCHEMES.update(TOYS)
