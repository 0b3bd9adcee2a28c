"""The upstream stages of ``fsr_gan`` (seed 001), each declared once as a ``Stage``.

- ``EXTRACTOR``: the frozen F (the embedded descriptor trained on the split's training landmarks,
  or VGG16 fc7 from local weights).
- ``BANK``: every feature a trial needs, computed once with F: training pairs (F of a training
  view and of its small versions), the validation / test queries large and small, the database,
  and the queries' PNG sizes. A trial then trains G on vectors and never runs F.
- ``ISR``: the pixel-space baseline: a VDSR-like network (DnCNN architecture, residual) trained
  with MSE on the same training views, then F applied to its output; it stores those features.
- ``CNN_BASELINE``: G alone, trained with the squared distance (MSE), no critic.
- ``GAN_MSE``: G and D with r = 1 (Eq. 8), otherwise the trial's settings.

Every baseline trains as long as a trial (``Config.train_steps`` generator steps).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from trainables.contract import Progress
from trainables.fsr_gan.config import Config
from trainables.fsr_gan.data import (dataset_key, distractor_mask, downscaled, load_dataset, png_bits, query_indices,
                                     random_crop, small_query_input, split_of, to_input, train_views)
from trainables.fsr_gan.extractor import build_extractor, describe, recipe
from trainables.retrieval.landmark_descriptor import load_descriptor, save_descriptor, train_descriptor
from trainables.fsr_gan.metrics import retrieval_map
from trainables.models import DnCNN
from trainables.stages import Stage


def _extractor_key(config: Config) -> dict:
    if config.extractor == "vgg16":
        return {"extractor": "vgg16", "weights": str(Path(config.extractor_weights or "").resolve())}
    return {"extractor": "embedded", "data": dataset_key(config), "split": config.split, "n_folds": config.n_folds,
            "input": config.input_size, "dim": config.dim, "steps": config.desc_steps, "lr": config.desc_lr,
            "batch": config.desc_batch_size, "seed": config.seed}


def _build_extractor(out: Path, config: Config, *, device, progress) -> None:
    if config.extractor == "vgg16":
        build_extractor(config)  # reads the weights: a missing file fails the stage with one line
        (out / "vgg16.txt").write_text(str(config.extractor_weights))
        return
    rset = load_dataset(config)
    views = train_views(rset, split_of(config, rset))
    save_descriptor(train_descriptor(recipe(config), rset, views, device, progress), out / "descriptor.pt")


def _load_extractor(folder: Path, config: Config, *, device) -> torch.nn.Module:
    if config.extractor == "vgg16":
        return build_extractor(config).to(device).eval()
    return load_descriptor(folder / "descriptor.pt", config.dim, device)


def _check_extractor(config: Config) -> None:
    """The inputs every stage reads, before anything is built: one line each if missing."""
    load_dataset(config)
    if config.extractor == "vgg16":
        build_extractor(config)


EXTRACTOR = Stage("fsr-extractor", version=2, key=_extractor_key, build=_build_extractor, load=_load_extractor,
                  check=_check_extractor)


def _bank_key(config: Config) -> dict:
    return {"extractor": EXTRACTOR.full_key(config), "data": dataset_key(config), "split": config.split,
            "n_folds": config.n_folds, "input": config.input_size, "factors": list(config.factors),
            "pair_crops": config.pair_crops, "seed": config.seed}


def _build_bank(out: Path, config: Config, *, device, progress: Progress | None) -> None:
    extractor = EXTRACTOR.get(config, device=device, progress=progress)
    rset = load_dataset(config)
    split = split_of(config, rset)
    side, ks = config.input_size, config.factors

    def features(images: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
        """F of each image large, and (N, K, D) of its small versions."""
        hr = describe(extractor, torch.stack([to_input(im, side) for im in images]), device)
        lr = torch.stack([describe(extractor, torch.stack([small_query_input(im, k, side) for im in images]), device)
                          for k in ks], dim=1)
        return hr, lr

    gen = torch.Generator().manual_seed(config.seed)
    views = [rset.load_db(i) for i in train_views(rset, split)]
    crops = [view if c == 0 else random_crop(view, 0.5, gen) for view in views for c in range(config.pair_crops)]
    if progress:
        progress(f"feature bank: {len(crops)} training crops × {len(ks) + 1} sizes, {len(rset.imlist)} database images")
    bank = dict(zip(("train_hr", "train_lr"), features(crops)))
    bank["db"] = describe(extractor, torch.stack([to_input(rset.load_db(i), side) for i in range(len(rset.imlist))]), device)
    bank["distractor"] = torch.from_numpy(distractor_mask(rset))
    for name, landmarks in (("val", split.val), ("test", split.test)):
        idx = query_indices(rset, landmarks)
        queries = [rset.load_query(i) for i in idx]
        bank[f"{name}_index"] = torch.tensor(idx)
        bank[f"{name}_hr"], bank[f"{name}_lr"] = features(queries)
        bank[f"{name}_bits"] = torch.tensor([[png_bits(downscaled(q, k)) for k in ks] for q in queries], dtype=torch.float64)
    torch.save(bank, out / "bank.pt")
    metrics = {}  # the data card's figures: how hard the set is for this F
    for name in ("val", "test"):
        gnd = [rset.gnd[i] for i in bank[f"{name}_index"].tolist()]
        metrics[f"{name}_map_clean"] = retrieval_map(bank[f"{name}_hr"], bank["db"], gnd)
        metrics[f"{name}_map_x{ks[-1]}_raw"] = retrieval_map(bank[f"{name}_lr"][:, -1], bank["db"], gnd)
    (out / "metrics.json").write_text(json.dumps(metrics))
    if progress:
        progress("extractor on this split: " + ", ".join(f"{k} {v:.3f}" for k, v in metrics.items()))


def _load_bank(folder: Path, config: Config, *, device) -> dict:
    return torch.load(folder / "bank.pt", map_location="cpu", weights_only=True)


BANK = Stage("fsr-bank", version=1, key=_bank_key, build=_build_bank, load=_load_bank)


def _isr_key(config: Config) -> dict:
    return {"bank": BANK.full_key(config), "depth": config.isr_depth, "width": config.isr_width,
            "batch": config.isr_batch_size, "steps": config.train_steps}


def _build_isr(out: Path, config: Config, *, device, progress: Progress | None) -> None:
    """Train the pixel network on (small view brought back up, large view) pairs, then describe its outputs."""
    torch.manual_seed(config.seed)
    rset = load_dataset(config)
    split = split_of(config, rset)
    side, patch = config.input_size, config.input_size // 4  # patches: a fully convolutional net, CPU minutes
    views = [rset.load_db(i) for i in train_views(rset, split)]
    model = DnCNN(depth=config.isr_depth, width=config.isr_width).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(config.seed)
    for step in range(config.train_steps):
        small, large = [], []
        for _ in range(config.isr_batch_size):
            view = views[int(torch.randint(len(views), (), generator=gen))]
            k = config.factors[int(torch.randint(len(config.factors), (), generator=gen))]
            y, x = (int(torch.randint(side - patch + 1, (), generator=gen)) for _ in range(2))
            small.append(small_query_input(view, k, side)[:, y:y + patch, x:x + patch])
            large.append(to_input(view, side)[:, y:y + patch, x:x + patch])
        loss = F.mse_loss(model(torch.stack(small).to(device)), torch.stack(large).to(device))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if progress and (step + 1) % 250 == 0:
            progress(f"ISR step {step + 1}/{config.train_steps}: MSE {loss.item():.5f}")
    model.eval()
    extractor = EXTRACTOR.get(config, device=device, progress=progress)
    bank = BANK.get(config, device=device, progress=progress)
    features = {}
    with torch.no_grad():
        for name in ("val", "test"):
            queries = [rset.load_query(i) for i in bank[f"{name}_index"].tolist()]
            features[name] = torch.stack([
                describe(extractor, torch.cat([model(small_query_input(q, k, side)[None].to(device)).clamp(0, 1).cpu()
                                               for q in queries]), device)
                for k in config.factors], dim=1)
    torch.save(features, out / "isr_features.pt")


def _load_isr(folder: Path, config: Config, *, device) -> dict:
    return torch.load(folder / "isr_features.pt", map_location="cpu", weights_only=True)


ISR = Stage("fsr-isr", version=1, key=_isr_key, build=_build_isr, load=_load_isr)


def _generator_key(config: Config, r: float, adversarial: bool) -> dict:
    key = {"bank": BANK.full_key(config), "r": r, "lr": config.lr, "dropout": config.dropout,
           "batch": config.batch_size, "steps": config.train_steps, "seed": config.seed}
    if adversarial:
        key |= {"w_adv": config.w_adv, "n_critic": config.n_critic, "lipschitz": config.lipschitz,
                "clip": config.clip_value, "gp": config.gp_weight}
    return key


def _build_generator(out: Path, config: Config, r: float, adversarial: bool, *, device, progress) -> None:
    from trainables.fsr_gan.training import FsrTraining  # a trial's own loop

    run = FsrTraining(config, BANK.get(config, device=device, progress=progress), device, r=r,
                      w_adv=config.w_adv if adversarial else 0.0)
    for _ in range(config.epochs):
        run.train_one_epoch()
    torch.save(run.generator.state_dict(), out / "generator.pt")


def _load_generator(folder: Path, config: Config, *, device) -> torch.nn.Module:
    from trainables.fsr_gan.training import build_generator

    generator = build_generator(config)
    generator.load_state_dict(torch.load(folder / "generator.pt", map_location="cpu", weights_only=True))
    return generator.to(device).eval()


CNN_BASELINE = Stage("fsr-cnn-baseline", version=1, key=lambda c: _generator_key(c, 2.0, False),
                     build=lambda out, c, **kw: _build_generator(out, c, 2.0, False, **kw), load=_load_generator)
GAN_MSE = Stage("fsr-gan-mse", version=1, key=lambda c: _generator_key(c, 1.0, True),
                build=lambda out, c, **kw: _build_generator(out, c, 1.0, True, **kw), load=_load_generator)
