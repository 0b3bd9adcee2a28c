"""The upstream stages of ``nima_sr`` (seed 002), each declared once as a ``Stage``.

- ``JUDGE``: the NIMA judge trained with squared EMD, with its test EMD / SRCC / PLCC.
- ``PRETRAIN``: the enhancer (EDSR or MDSR) trained with L2 only: the paper's "baseline model",
  the starting point of every trial.
- ``L2_TWIN``: the baseline model fine-tuned exactly as a trial is (same steps, lr, batches),
  with γ = 0: the control a trial's NIMA gain and PSNR cost are measured against.

Keys hold everything a stage's output depends on and nothing the sweep searches (γ; the twin
keeps lr in its key because it fine-tunes with the trial's lr).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.nn.functional as F

from trainables.data.ava import read_ava_txt
from trainables.models import EDSR, MDSR
from trainables.nima_sr.config import Config
from trainables.nima_sr.data import TrainPairs, dataset_key
from trainables.nima_sr.judge import SRCC_BAR, build_judge, judge_key, train_judge
from trainables.stages import Stage


def _check_judge(config: Config) -> None:
    if config.judge_dataset == "ava":
        read_ava_txt(Path(config.judge_root) / "AVA.txt")  # one UserInputError line if absent


def _build_judge(out: Path, config: Config, *, device, progress) -> None:
    judge, metrics = train_judge(config, device, progress)
    if progress:
        progress(f"NIMA judge: test SRCC {metrics['srcc']:.3f}, PLCC {metrics['plcc']:.3f}, EMD {metrics['emd']:.3f}")
        if metrics["srcc"] < SRCC_BAR:
            progress(f"warning: the NIMA judge's test SRCC {metrics['srcc']:.3f} is below {SRCC_BAR}: it cannot rank images "
                     "well enough to be trusted as a training signal (see README, nima_sr)")
    torch.save(judge.state_dict(), out / "nima.pt")
    (out / "metrics.json").write_text(json.dumps(metrics))


def _load_judge(folder: Path, config: Config, *, device):
    """The frozen judge (eval mode, no grad) and its test metrics."""
    judge = build_judge(config)
    judge.load_state_dict(torch.load(folder / "nima.pt", map_location="cpu", weights_only=True))
    return judge.to(device).eval().requires_grad_(False), json.loads((folder / "metrics.json").read_text())


JUDGE = Stage("nima-judge", version=1, key=judge_key, build=_build_judge, load=_load_judge, check=_check_judge)


def build_enhancer(config: Config) -> torch.nn.Module:
    if config.arch == "mdsr":
        return MDSR(config.n_resblocks, config.n_feats, scales=config.scales)
    return EDSR(config.n_resblocks, config.n_feats, scale=config.scale)


def enhance(model: torch.nn.Module, x: torch.Tensor, scale: int, config: Config) -> torch.Tensor:
    """One call for both architectures: MDSR routes by scale, EDSR has one."""
    return model(x, scale) if config.arch == "mdsr" else model(x)


def l2(output: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
    """The paper's L2 on the 0–255 scale (EDSR-PyTorch, rgb_range 255): γ keeps its units."""
    return F.mse_loss(output * 255, hr * 255)


def _pretrain_key(config: Config) -> dict:
    return {"data": dataset_key(config), "arch": config.arch, "scales": config.scales, "blocks": config.n_resblocks,
            "feats": config.n_feats, "patch": config.patch, "batch": config.batch_size, "steps": config.pretrain_steps,
            "lr": config.pretrain_lr, "seed": config.seed}


def _build_pretrain(out: Path, config: Config, *, device, progress) -> None:
    torch.manual_seed(config.seed)
    model = build_enhancer(config).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=config.pretrain_lr)
    pairs, gen = TrainPairs(config), torch.Generator().manual_seed(config.seed)
    for step in range(config.pretrain_steps):
        scale = config.scales[step % len(config.scales)]  # MDSR: every scale in turn
        lr, hr = pairs.batch(scale, config.batch_size, gen)
        loss = l2(enhance(model, lr.to(device), scale, config), hr.to(device))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if progress and (step + 1) % 500 == 0:
            progress(f"pretrain {config.arch} step {step + 1}/{config.pretrain_steps}: L2 {loss.item():.2f}")
    torch.save(model.state_dict(), out / "enhancer.pt")


def _load_enhancer(folder: Path, config: Config, *, device) -> torch.nn.Module:
    model = build_enhancer(config)
    model.load_state_dict(torch.load(folder / "enhancer.pt", map_location="cpu", weights_only=True))
    return model.to(device)


PRETRAIN = Stage("nima-sr-pretrain", version=1, key=_pretrain_key, build=_build_pretrain, load=_load_enhancer)


def _twin_key(config: Config) -> dict:
    return {"pretrain": PRETRAIN.full_key(config), "lr": config.lr, "epochs": config.epochs,
            "steps": config.steps_per_epoch}


def _build_twin(out: Path, config: Config, *, device, progress) -> None:
    from trainables.nima_sr.training import Finetune  # the trial's own loop, with γ = 0

    run = Finetune(config, PRETRAIN.ensure(config, device=device, progress=progress), judge=None, device=device)
    for epoch in range(config.epochs):
        run.train_one_epoch(gamma=0.0)
    torch.save(run.model.state_dict(), out / "enhancer.pt")


L2_TWIN = Stage("nima-sr-l2-twin", version=1, key=_twin_key, build=_build_twin, load=_load_enhancer)
