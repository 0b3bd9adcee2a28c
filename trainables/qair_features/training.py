"""Feature adaptation (seed 000 §5, §6.9, Tables 10-12): fine-tune the retrieval CNN's trunk for
enhanced queries with a frozen feature QA net.

    loss = (1 − FQA(trunk′(E(degraded)))).mean() + λ · MSE(trunk′(E(degraded)), trunk(E(degraded)))   (Eq. 4)

E is the MSE-trained enhancer ("NN", the shared ``qair-pretrain`` stage), fixed; trunk is the
CNN backend's conv map (``retrieval_cnn``: the embedded descriptor trained on the split's
training landmarks, or VGG-19 on real data), trunk′ its copy being tuned. The database keeps
trunk's descriptors: only queries are described by trunk′, which is why M holds trunk′'s conv
map near trunk's. §5 says "fine tune the feature
extraction network" and no more; re-describing the database with trunk′ would be another reading.

The training inputs are the enhanced versions of the training landmarks' queries that the labels
stage made (one per query, the degradation the trial is tested on: §6.2.3 "degraded images of
similar degradation levels"); validation and test queries are the labels stage's enhanced ones
too, so the "NN" column and this trial rank the very same images, and λ → ∞ (or lr = 0) gives
the "NN" figures back exactly.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn.functional as F

from trainables.contract import Progress, Report, Stages
from trainables.data import embedded_landmarks
from trainables.data.image_files import read_rgb
from trainables.data.landmark_splits import Split, query_indices
from trainables.loop import Trainees, run_epochs
from trainables.models import DescriptorConvMap, EnhancedQueryDescriptor, LandmarkDescriptor, feature_extractor
from trainables.models.descriptor import shrink_to
from trainables.qair_denoise.data import load_dataset, query_ap, splits_of, uint8_chw
from trainables.qair_denoise.stages import LABELS, PRETRAIN, labels_split, labels_stage_name, retrieval_backends
from trainables.qair_denoise.stages import build_model as build_enhancer
from trainables.qair_denoise.training import baseline_metrics
from trainables.qair_features.config import Config
from trainables.qair_features.stages import FEATURE_QA
from trainables.retrieval import CnnBackend


def feature_loss(ap_pred: torch.Tensor, features: torch.Tensor, original: torch.Tensor, lam: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Eq. 4, the one weighted sum: ``(1 − AP_feat).mean() + λ·M``; returns (loss, M)."""
    m = F.mse_loss(features, original)
    return (1 - ap_pred).mean() + lam * m, m


def build_model(config: Config) -> EnhancedQueryDescriptor:
    """The registered model, untrained: the enhancer, then the CNN's conv map (the embedded
    descriptor's, or VGG-19's on real data), GeM."""
    embedded = config.dataset == embedded_landmarks.NAME
    conv = DescriptorConvMap(LandmarkDescriptor(grayscale=True).trunk) if embedded else feature_extractor("vgg19")
    return EnhancedQueryDescriptor(build_enhancer(config), conv)


def _fqa_stage_name(split: Split) -> str:
    return f"feature_qa_s{split.index}"


def prepare(config: Config, device: torch.device, progress: Progress | None = None) -> Stages:
    """The enhancer, and per split the AP labels (built with the split's descriptor on embedded
    data) and the feature QA net."""
    stages = {"pretrain": PRETRAIN.ensure(config, device=device, progress=progress)}
    for split in splits_of(config, load_dataset(config)):
        stages[labels_stage_name(config, split)] = LABELS.ensure(config, labels_split(config, split), device=device,
                                                                 progress=progress)
        stages[_fqa_stage_name(split)] = FEATURE_QA.ensure(config, split, device=device, progress=progress)
    return stages


class FeatureRun:
    """One split's fine-tuning: the query model (fixed enhancer + the conv map being tuned), the
    original conv map (``base``'s, frozen), the frozen feature QA net, and the enhanced queries it
    trains and ranks. ``base`` is the split's CNN backend: its database stays as it is."""

    def __init__(self, config: Config, rset, split: Split, stages: Stages, base: CnnBackend, device: torch.device):
        self.split, self.device, self.rset = split, device, rset
        self.labels_dir = LABELS.load(stages[labels_stage_name(config, split)], config, device=device)
        self.original = base.trunk
        enhancer = PRETRAIN.load(stages["pretrain"], config, device=device).eval().requires_grad_(False)
        self.model = EnhancedQueryDescriptor(enhancer, copy.deepcopy(self.original).requires_grad_(True))
        self.opt = torch.optim.SGD(self.model.conv.parameters(), lr=config.lr, momentum=config.momentum)
        self.gen = torch.Generator().manual_seed(config.seed * 7919 + split.index)
        self.fqa, self.fqa_metrics = FEATURE_QA.load(stages[_fqa_stage_name(split)], config, split, device=device)
        self.enhanced = {i: read_rgb(self.labels_dir / "images" / f"{rset.qimlist[i]}__nn.png")
                         for names in (split.train, split.val, split.test) for i in query_indices(rset, names)}
        self.train_images = [uint8_chw(self.enhanced[i]) for i in query_indices(rset, split.train)]  # whole, any size
        self.backend = base.with_trunk(self.model.conv)  # queries through the tuned conv map

    def train_one_epoch(self, config: Config) -> dict[str, float]:
        # BN keeps the descriptor's statistics (eval mode): batches of a few queries would make them noisy,
        # and with lr = 0 the features then stay exactly the original ones
        self.model.eval()
        sums = {"loss": 0.0, "feature_mse": 0.0, "ap_pred": 0.0}
        for _ in range(config.steps_per_epoch):
            picks = torch.randint(len(self.train_images), (config.batch_size,), generator=self.gen).tolist()
            self.opt.zero_grad()
            # Queries differ in size on real data: a batch is the mean over whole images, each
            # backpropagated on its own (the same gradient as one batch, one image's graph at a time).
            for i in picks:
                x = shrink_to(self.train_images[i][None].to(self.device).float().div(255))
                with torch.no_grad():
                    original = self.original(x)
                features = self.model.conv_map(x)
                ap_pred = self.fqa(features)
                loss, m = feature_loss(ap_pred, features, original, config.lam)
                # Eq. 4 / (1 + λ): one lr range from λ → 0 to λ → ∞ (as qair's Eq. 3)
                (loss / (len(picks) * (1 + config.lam))).backward()
                for k, v in (("loss", loss), ("feature_mse", m), ("ap_pred", ap_pred.mean())):
                    sums[k] += v.item() / (len(picks) * config.steps_per_epoch)
            self.opt.step()
        return sums

    def evaluate(self, names: tuple[str, ...]) -> float:
        """mAP of the enhanced queries of ``names``, described by the tuned trunk."""
        return float(np.nanmean([query_ap(self.backend, self.rset, i, self.enhanced[i]) for i in query_indices(self.rset, names)]))


def train(config: Config, stages: Stages, device: torch.device, resume: dict | None, report: Report) -> None:
    """Tune one trunk per split; after each epoch report val/test mAP (means over splits)."""
    rset = load_dataset(config)
    splits = splits_of(config, rset)
    backends = retrieval_backends(config, rset, splits, device=device)
    runs = [FeatureRun(config, rset, s, stages, backends[labels_stage_name(config, s)], device) for s in splits]
    baselines = baseline_metrics(config, rset, splits, [r.labels_dir for r in runs], [r.fqa_metrics for r in runs], judge="fqa")
    trainees = Trainees(nets={f"s{r.split.index}": r.model for r in runs}, model=f"s{splits[0].index}",
                        optimizers={f"s{r.split.index}": r.opt for r in runs},
                        generators={f"s{r.split.index}": r.gen for r in runs})

    def one_epoch(epoch: int) -> dict[str, float]:
        parts = [run.train_one_epoch(config) | {"val_map": run.evaluate(run.split.val), "test_map": run.evaluate(run.split.test)}
                 for run in runs]
        per_split = {f"test_map_s{run.split.index}": part["test_map"] for run, part in zip(runs, parts)}
        return {k: float(np.mean([p[k] for p in parts])) for k in parts[0]} | per_split | baselines

    run_epochs(config.epochs, trainees, one_epoch, report, resume)
