"""The upstream stages of ``qair_denoise``, ``qair_sr`` and ``qair_joint`` (seed 000 §6.2), each
declared once as a ``Stage``; ``config.TASK`` ("denoise", "sr" or "joint") picks the degradation.

- ``PRETRAIN``: the enhancer trained with MSE (Adam, one-cycle schedule) on degraded patches of the database images (the
  "NN" row): DnCNN on AWGN-σ patches, or DnCNN after bicubic ×4 upsampling on ×4 smaller ones.
- ``LABELS``: every query in distorted versions, each labelled with its true SIFT AP. Denoising:
  noise σ 3..44, blur σ 0.5..2, and stage (a) and a classical denoiser applied to the σ-noisy
  query (10 versions). SR: blur σ 0.5..2, bicubic down-up ×2 and ×4, and stage (a) applied to
  the ×4 smaller query (6 versions, Table 2). Joint (§6.8): the noise, blur and down-up versions
  and stage (a) on a noisy and on a ×4 smaller query (12 versions). Plus the degraded queries
  every trial evaluates on (``inputs/``) and the per-query baselines.
- ``QAIR_HEAD`` (one per split): the QAIR head trained with MAE on the train landmarks' labels.
- ``DESCRIPTOR`` (one per split, ``local_feature: cnn`` only): the embedded landmark descriptor
  trained on the split's training landmarks, whose pooled conv map is the CNN retrieval backend
  (§6.6, Table 7). AP then depends on the split, so ``LABELS`` is built once per split too;
  with SIFT or ORB it is one stage shared by every split.

Keys hold everything a stage's output depends on (dataset, sizes, seed) and nothing the sweep
searches (λ, lr, epochs), so every trial of a sweep shares them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from trainables.data.degradations import bicubic_degrade, gaussian_blur, imresize, quantise
from trainables.data.image_files import read_rgb, to_tensor, to_uint8
from trainables.metrics import psnr, ssim
from trainables.data import embedded_landmarks
from trainables.models import BicubicDnCNN, DescriptorConvMap, DnCNN, QAIRHead, check_weights, feature_extractor
from trainables.data.landmark_splits import Split, landmark_of, train_views
from trainables.qair_denoise.data import (classical_denoise, dataset_key, degrade, draw_sigma, enhance, load_dataset,
                                          local_feature_backend, noisy, query_ap, random_patches,
                                          uint8_chw, upsampled_small, write_png)
from trainables.retrieval import CnnBackend, index_database
from trainables.retrieval.landmark_descriptor import DescriptorRecipe, load_descriptor, save_descriptor, train_descriptor
from trainables.stages import Stage
from trainables.threads import thread_map

LABEL_NOISE = (3.0, 8.0, 14.0, 26.0, 44.0)  # §6.2.1, 0–255 units
LABEL_BLUR = (0.5, 1.0, 2.0)
LABEL_DOWNUP = (2, 4)  # SR labels: bicubic down and back up by these factors (§6.2.2)
LABEL_KINDS = {"denoise": ("noise", "blur"), "sr": ("blur", "downup"), "joint": ("noise", "blur", "downup")}
PRETRAIN_IMAGES = 300  # at most this many database images (evenly spaced) held in memory


# ---------------------------------------------------------------- (a) pretrain the enhancer


def build_model(config) -> DnCNN | BicubicDnCNN:
    """The enhancer, untrained: DnCNN (denoising, and the joint network, which is given small
    images already upsampled), or bicubic ×scale then DnCNN (SR)."""
    if config.TASK == "sr":
        return BicubicDnCNN(config.scale, config.dncnn_depth, config.dncnn_width)
    return DnCNN(config.dncnn_depth, config.dncnn_width)


def _degradation_key(config) -> dict:
    if config.TASK == "sr":
        return {"task": "sr", "scale": config.scale}
    if config.TASK == "joint":
        return {"task": "joint", "sigma": config.sigma, "sigma_max": config.sigma_max,
                "sr_factors": config.sr_factors, "scale": config.scale}
    return {"sigma": config.sigma, "sigma_max": config.sigma_max}


def _pretrain_key(config) -> dict:
    return {"data": dataset_key(config), **_degradation_key(config),
            "depth": config.dncnn_depth, "width": config.dncnn_width, "patch": config.patch,
            "batch": config.pretrain_batch_size, "steps": config.pretrain_steps, "lr": config.pretrain_lr,
            "schedule": "one-cycle", "seed": config.seed}


def _build_pretrain(out: Path, config, *, device, progress) -> None:
    rset = load_dataset(config)
    picks = np.linspace(0, len(rset.imlist) - 1, min(len(rset.imlist), PRETRAIN_IMAGES)).round().astype(int)
    db = [uint8_chw(rset.load_db(i)) for i in sorted(set(picks.tolist()))]
    torch.manual_seed(config.seed)  # the initial weights
    model = build_model(config).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=config.pretrain_lr)
    # a short warm-up, then cosine decay to a small lr: a fixed-length Adam run that ends settled
    schedule = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.pretrain_lr, total_steps=config.pretrain_steps,
                                                   pct_start=0.05)
    gen = torch.Generator().manual_seed(config.seed)
    model.train()
    for step in range(config.pretrain_steps):
        _, clean = random_patches(db, config.pretrain_batch_size, config.patch, gen)
        clean = clean.to(device)
        loss = torch.nn.functional.mse_loss(model(degrade(config, clean, gen)), clean)
        opt.zero_grad()
        loss.backward()
        opt.step()
        schedule.step()
        if progress and (step + 1) % 100 == 0:
            progress(f"pretrain the enhancer step {step + 1}/{config.pretrain_steps}: mse {loss.item():.5f}")
    torch.save(model.state_dict(), out / "dncnn.pt")


def _load_pretrain(folder: Path, config, *, device) -> DnCNN | BicubicDnCNN:
    model = build_model(config)
    model.load_state_dict(torch.load(folder / "dncnn.pt", map_location="cpu", weights_only=True))
    return model.to(device)


PRETRAIN = Stage("qair-pretrain", version=2, key=_pretrain_key, build=_build_pretrain, load=_load_pretrain)


# ---------------------------------------------------------------- the CNN retrieval backend (local_feature: cnn)


def _descriptor_recipe(config) -> DescriptorRecipe:
    return DescriptorRecipe(input_size=config.descriptor_input, steps=config.descriptor_steps, seed=config.seed)


def _descriptor_key(config, split: Split) -> dict:
    return {"data": dataset_key(config), "train": split.train, **vars(_descriptor_recipe(config))}


def _build_descriptor(out: Path, config, split: Split, *, device, progress) -> None:
    rset = load_dataset(config)
    net = train_descriptor(_descriptor_recipe(config), rset, train_views(rset, split), device, progress)
    save_descriptor(net, out / "descriptor.pt")


DESCRIPTOR = Stage("qair-descriptor", version=1, key=_descriptor_key, build=_build_descriptor,
                   load=lambda folder, config, split, *, device: load_descriptor(folder / "descriptor.pt",
                                                                                  _descriptor_recipe(config).dim, device),
                   tag=lambda split: f"s{split.index}")


def labels_split(config, split: Split) -> Split | None:
    """The split the AP labels depend on: the embedded CNN backend's (trained per split), else none
    (SIFT, ORB, and VGG-19 on real data serve every split)."""
    return split if config.local_feature == "cnn" and config.dataset == embedded_landmarks.NAME else None


def retrieval_cnn(config, split: Split | None, *, device, progress=None) -> torch.nn.Module:
    """The frozen conv map the CNN backend pools: the split's trained embedded descriptor's, or on
    real data VGG-19's last conv map (ImageNet weights from ``cnn_weights``, §6.6)."""
    if split is None:
        return feature_extractor("vgg19", weights_path=config.cnn_weights, pretrained=True).to(device).eval().requires_grad_(False)
    return DescriptorConvMap(DESCRIPTOR.get(config, split, device=device, progress=progress).trunk)


def retrieval_backend(config, rset, split: Split | None, *, device, progress=None):
    """The backend AP is measured with: SIFT or ORB (one for every split), or GeM of a CNN's last
    conv map (``retrieval_cnn``; ``split`` from ``labels_split``)."""
    if config.local_feature != "cnn":
        return local_feature_backend(config, rset, progress)
    backend = CnnBackend(retrieval_cnn(config, split, device=device, progress=progress), pooling="gem", device=device)
    index_database(backend, rset, progress)  # keyed by the weights: each split's own file
    return backend


def retrieval_backends(config, rset, splits: list[Split], *, device) -> dict:
    """``retrieval_backend`` once per labels stage (``labels_stage_name``): SIFT/ORB's database
    features, or VGG-19's, are loaded once for every split; the embedded CNN's once per split."""
    backends = {}
    for split in splits:
        name = labels_stage_name(config, split)
        if name not in backends:
            backends[name] = retrieval_backend(config, rset, labels_split(config, split), device=device)
    return backends


# ---------------------------------------------------------------- (b) AP labels


def _labels_key(config, split: Split | None = None) -> dict:
    versions = {"noise": LABEL_NOISE, "blur": LABEL_BLUR, "downup": LABEL_DOWNUP}
    versions = {k: v for k, v in versions.items() if k in LABEL_KINDS[config.TASK]}
    return {"pretrain": PRETRAIN.full_key(config), "sift_features": config.sift_features, **versions,
            **({"classical": config.classical} if config.TASK == "denoise" else {}),
            # SIFT's keys stay as they were before ORB existed, so built SIFT labels are found again
            **({"local_feature": config.local_feature} if config.local_feature != "sift" else {}),
            **({"descriptor": DESCRIPTOR.full_key(config, split)} if split else {}),
            **({"cnn": "vgg19", "weights": _file_id(check_weights("vgg19", config.cnn_weights))}
               if config.local_feature == "cnn" and not split else {})}


def _file_id(path: Path) -> str:
    """A weights file as a key: its name and size (another file of the same name is not reused)."""
    return f"{path.name}:{path.stat().st_size}"


def _build_labels(out: Path, config, split: Split | None = None, *, device, progress) -> None:
    """``labels.json`` (query, landmark, version, file, ap), ``images/``, ``inputs/`` (the
    degraded queries trials evaluate on: ``<query>.png``, or ``<query>__noise.png`` and
    ``<query>__sr.png`` for the joint network) and ``baselines.json`` ({query: {method: {ap,
    psnr, ssim}}}; methods without an image of the query's size, the clean and the ×4 smaller
    one, have AP only)."""
    rset = load_dataset(config)
    backend = retrieval_backend(config, rset, split, device=device, progress=progress)
    enhancer = PRETRAIN.get(config, device=device, progress=progress)
    (out / "images").mkdir()
    (out / "inputs").mkdir()
    labels, baselines = [], {}
    # Queries are independent (each draws from its own generator), so they are labelled on every
    # core at once; the files and figures are the same as one at a time.
    label = lambda i: _label_query(out, config, rset, backend, enhancer, i)  # noqa: E731
    for done, (name, rows, row) in enumerate(thread_map(label, range(len(rset.qimlist))), 1):
        labels += rows
        baselines[name] = row
        if progress and (done % 8 == 0 or done == len(rset.qimlist)):
            progress(f"AP labels: {done}/{len(rset.qimlist)} queries")
    (out / "labels.json").write_text(json.dumps(labels, indent=0))
    (out / "baselines.json").write_text(json.dumps(baselines, indent=1))


def reference_query(config, rset, i: int) -> np.ndarray:
    """Query ``i`` as the enhancer should give it back (cropped to a multiple of the SR scale)."""
    clean = rset.load_query(i)
    return clean[:clean.shape[0] - clean.shape[0] % config.scale, :clean.shape[1] - clean.shape[1] % config.scale] \
        if config.TASK in ("sr", "joint") else clean


def _distorted_versions(config, x: torch.Tensor, gen) -> dict[str, np.ndarray]:
    """The fixed distortions of ``config.TASK``'s labels (``LABEL_KINDS``), noise first (it draws
    from ``gen``), then blur, then bicubic down-up."""
    kinds, versions = LABEL_KINDS[config.TASK], {}
    if "noise" in kinds:
        versions |= {f"noise{s:g}": to_uint8(noisy(x, s, gen)[0]) for s in LABEL_NOISE}
    if "blur" in kinds:
        versions |= {f"blur{s:g}": to_uint8(gaussian_blur(x, s)[0]) for s in LABEL_BLUR}
    if "downup" in kinds:
        versions |= {f"downup{f}": to_uint8(bicubic_degrade(x, f)[0]) for f in LABEL_DOWNUP}
    return versions


def _denoise_versions(config, x: torch.Tensor, enhancer, gen) -> tuple[np.ndarray, dict, dict]:
    """(the σ-noisy query, the labelled versions, baseline images): seed 000 §6.2.1."""
    sigma = draw_sigma(config, gen)  # the classical denoiser is told the true σ, as BM3D needs
    sigma_noisy = to_uint8(noisy(x, sigma, gen)[0])
    versions = _distorted_versions(config, x, gen)
    versions["nn"] = enhance(enhancer, sigma_noisy)
    versions[config.classical] = classical_denoise(config.classical, sigma_noisy, sigma)
    return sigma_noisy, versions, {"noisy": sigma_noisy, "nn": versions["nn"], config.classical: versions[config.classical]}


def _sr_versions(config, x: torch.Tensor, enhancer, gen) -> tuple[np.ndarray, dict, dict]:
    """(the ×scale smaller query, the labelled versions, baseline images): seed 000 §6.2.2, Table 8."""
    small = to_uint8(quantise(imresize(x, 1 / config.scale))[0])
    bicubic = to_uint8(imresize(to_tensor(small)[None], config.scale)[0])
    versions = _distorted_versions(config, x, gen)  # draws nothing: SR labels have no noise
    versions["nn"] = enhance(enhancer, small)
    return small, versions, {"down": small, "bicubic": bicubic, "nn": versions["nn"]}


def _joint_versions(config, x: torch.Tensor, enhancer, gen) -> tuple[dict, dict, dict]:
    """(the two test inputs, the labelled versions, baseline images): seed 000 §6.8, Table 9.
    One noisy (σ in [sigma, sigma_max]) and one ×scale smaller query, bicubic-upsampled."""
    inputs = {"noise": to_uint8(noisy(x, draw_sigma(config, gen), gen)[0]),
              "sr": to_uint8(upsampled_small(x, config.scale)[0])}
    versions = _distorted_versions(config, x, gen)
    versions |= {f"nn_{kind}": enhance(enhancer, img) for kind, img in inputs.items()}
    methods = {"noisy": inputs["noise"], "nn_noise": versions["nn_noise"], "bicubic": inputs["sr"], "nn_sr": versions["nn_sr"]}
    return inputs, versions, methods


def input_file(name: str, kind: str) -> str:
    """The file under ``inputs/`` of query ``name``'s degraded version ``kind`` ("" when one)."""
    return f"{name}__{kind}.png" if kind else f"{name}.png"


def input_kinds(config) -> tuple[str, ...]:
    return ("noise", "sr") if config.TASK == "joint" else ("",)


def _label_query(out: Path, config, rset, backend, enhancer, i: int) -> tuple[str, list[dict], dict]:
    """Query ``i``'s distorted versions with their true AP (written under ``out``), and its baselines."""
    name, clean = rset.qimlist[i], reference_query(config, rset, i)
    x = to_tensor(clean)[None]
    gen = torch.Generator().manual_seed(config.seed * 100_003 + i)  # per query: order-free
    if config.TASK == "joint":
        inputs, versions, methods = _joint_versions(config, x, enhancer, gen)
    else:
        given, versions, methods = (_sr_versions if config.TASK == "sr" else _denoise_versions)(config, x, enhancer, gen)
        inputs = {"": given}
    for kind, img in inputs.items():
        write_png(out / "inputs" / input_file(name, kind), img)
    aps = {v: query_ap(backend, rset, i, img) for v, img in versions.items()}
    rows = []
    for v, img in versions.items():
        file = f"images/{name}__{v}.png"
        write_png(out / file, img)
        rows.append({"query": name, "landmark": landmark_of(name), "version": v, "file": file, "ap": aps[v]})
    baselines = {"clean": {"ap": query_ap(backend, rset, i, clean)}}
    for method, img in methods.items():
        ap = aps[method] if method in aps else query_ap(backend, rset, i, img)
        baselines[method] = {"ap": ap} | ({"psnr": psnr(to_tensor(img)[None], x), "ssim": ssim(to_tensor(img)[None], x)}
                                          if img.shape == clean.shape else {})
    return name, rows, baselines


LABELS = Stage("qair-labels", version=2, key=_labels_key, build=_build_labels,
               load=lambda folder, config, split=None, *, device: folder,  # trials read its files
               tag=lambda split=None: f"s{split.index}" if split else None)


def read_labels(folder: Path, landmarks: tuple[str, ...]) -> tuple[list[dict], list[torch.Tensor]]:
    """The labelled images (uint8 (3, H, W)) of ``landmarks``, queries without positives left out."""
    rows = [r for r in json.loads((folder / "labels.json").read_text())
            if r["landmark"] in landmarks and r["ap"] == r["ap"]]  # NaN AP: no positives
    return rows, [uint8_chw(read_rgb(folder / r["file"])) for r in rows]


# ---------------------------------------------------------------- (c) QAIR head per split


def _qair_key(config, split: Split) -> dict:
    return {"labels": LABELS.full_key(config, labels_split(config, split)), "train": split.train, "test": split.test,
            "patch": config.patch, "batch": config.qa_batch_size, "steps": config.qa_steps, "lr": config.qa_lr, "seed": config.seed}


def predict_image_ap(head: QAIRHead, image: torch.Tensor, patch: int) -> float:
    """An image's predicted AP: the mean over its non-overlapping patches (§6.2: patch-based)."""
    h, w = image.shape[1:]
    tiles = [image[:, y:y + patch, x:x + patch] for y in range(0, h - patch + 1, patch) for x in range(0, w - patch + 1, patch)]
    with torch.no_grad():  # an image smaller than a patch is judged whole
        return float(head(torch.stack(tiles or [image]).to(next(head.parameters()).device).float().div(255)).mean())


def reference_maes(train_rows: list[dict], test_rows: list[dict]) -> dict[str, float]:
    """The test MAE of three judges that look at no pixels, to read the head's MAE against:
    ``constant`` predicts the training labels' mean AP; ``per_version`` the training mean of
    the image's version (noise10, blur2, nn, ...); ``landmark_oracle`` the mean true AP of the
    image's own test landmark and version, which no judge of unseen landmarks can know. When
    the oracle's MAE is itself above a target, the spread is within landmark and version."""
    truth = np.array([r["ap"] for r in test_rows])
    by_version: dict[str, list[float]] = {}
    for r in train_rows:
        by_version.setdefault(r["version"], []).append(r["ap"])
    overall = float(np.mean([r["ap"] for r in train_rows]))
    per_version = np.array([np.mean(by_version.get(r["version"], [overall])) for r in test_rows])
    groups: dict[tuple[str, str], list[float]] = {}
    for r in test_rows:
        groups.setdefault((r["landmark"], r["version"]), []).append(r["ap"])
    oracle = np.array([np.mean(groups[r["landmark"], r["version"]]) for r in test_rows])
    return {"mae_constant": float(np.abs(truth - overall).mean()),
            "mae_per_version": float(np.abs(truth - per_version).mean()),
            "mae_landmark_oracle": float(np.abs(truth - oracle).mean())}


def judge_metrics(what: str, split: Split, errors, train_rows: list[dict], test_rows: list[dict], last_loss: float,
                  progress=None) -> dict[str, float]:
    """A judge's test figures (Table 1), said in one progress line: its MAE, its MAE on the enhanced
    versions (``nn…``), and the MAE of judges that see no pixels (``reference_maes``)."""
    errors = np.asarray(errors, dtype=float)
    enhanced = [e for e, r in zip(errors, test_rows) if r["version"].startswith("nn")]  # the joint one has two
    metrics = {"mae": float(errors.mean()), "mae_denoised": float(np.mean(enhanced)), "last_train_loss": last_loss,
               **reference_maes(train_rows, test_rows)}
    if progress:
        progress(f"{what} split {split.index}: test MAE {metrics['mae']:.3f} (enhanced only {metrics['mae_denoised']:.3f}; "
                 f"constant {metrics['mae_constant']:.3f}, landmark oracle {metrics['mae_landmark_oracle']:.3f})")
    return metrics


def _build_qair(out: Path, config, split: Split, *, device, progress) -> None:
    """``qair.pt`` and ``metrics.json``: image-level MAE on the test landmarks (Table 1)."""
    folder = LABELS.ensure(config, labels_split(config, split), device=device, progress=progress)
    rows, images = read_labels(folder, split.train)
    targets = torch.tensor([r["ap"] for r in rows], dtype=torch.float32, device=device)
    torch.manual_seed(config.seed + 1000 * split.index)
    head = QAIRHead(backbone="small").to(device)
    opt = torch.optim.Adam(head.parameters(), lr=config.qa_lr)
    gen = torch.Generator().manual_seed(config.seed + 1000 * split.index)
    head.train()
    for _ in range(config.qa_steps):
        idx, patches = random_patches(images, config.qa_batch_size, config.patch, gen)
        loss = (head(patches.to(device)) - targets[idx.to(device)]).abs().mean()  # Eq. 2: every patch gets its image's AP
        opt.zero_grad()
        loss.backward()
        opt.step()
    head.eval()
    test_rows, test_images = read_labels(folder, split.test)
    errors = [abs(predict_image_ap(head, img, config.patch) - r["ap"]) for r, img in zip(test_rows, test_images)]
    metrics = judge_metrics("QAIR head", split, errors, rows, test_rows, loss.item(), progress)
    torch.save(head.state_dict(), out / "qair.pt")
    (out / "metrics.json").write_text(json.dumps(metrics))


def _load_qair(folder: Path, config, split: Split, *, device) -> tuple[QAIRHead, dict]:
    """The frozen head (eval mode, no grad) and its Table-1 metrics."""
    head = QAIRHead(backbone="small")
    head.load_state_dict(torch.load(folder / "qair.pt", map_location="cpu", weights_only=True))
    return head.to(device).eval().requires_grad_(False), json.loads((folder / "metrics.json").read_text())


QAIR_HEAD = Stage("qair-head", version=2, key=_qair_key, build=_build_qair, load=_load_qair,
                  tag=lambda split: f"s{split.index}")


def head_stage_name(split: Split) -> str:
    """The name under which ``prepare`` hands over split ``split``'s head."""
    return f"qair_head_s{split.index}"


def labels_stage_name(config, split: Split) -> str:
    """The name under which ``prepare`` hands over the labels split ``split`` reads."""
    return f"labels_s{split.index}" if labels_split(config, split) else "labels"
