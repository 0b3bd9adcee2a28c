"""qair_features (seed 000 §5, Tables 10-12): the extractor's trunk tuned for enhanced queries."""

import numpy as np
import pytest
import torch

from trainables import qair_features as qf
from trainables.errors import UserInputError
from trainables.qair_denoise import data as dt
from trainables.qair_denoise import stages as st
from trainables.qair_features import stages as fst
from trainables.models.pooling import gem
from trainables.qair_features.training import FeatureRun

CPU = torch.device("cpu")


def smoke(**overrides) -> qf.Config:
    return qf.Config.from_dict({**qf.SMOKE, **overrides})


def train_once(config: qf.Config) -> tuple[list[dict], dict]:
    reports = []
    qf.train(config, qf.prepare(config, CPU), CPU, None, lambda m, s: reports.append((m, s)))
    return [m for m, _ in reports], reports[-1][1]


def test_feature_loss_is_one_minus_predicted_ap_plus_lambda_times_the_feature_mse():
    ap = torch.tensor([0.25, 0.75])
    tuned, original = torch.ones(2, 4, 3, 3), torch.zeros(2, 4, 3, 3)
    loss, m = qf.feature_loss(ap, tuned, original, lam=3.0)
    assert m.item() == pytest.approx(1.0) and loss.item() == pytest.approx(0.5 + 3.0)


def test_with_lr_zero_the_trial_ranks_exactly_as_the_nn_column():
    """The tuned trunk starts as the original, and the NN column ranks the same enhanced images."""
    m = train_once(smoke(lr=0.0, epochs=1))[0][0]
    assert m["test_map"] == m["test_map_nn"] and m["val_map"] == m["val_map_nn"]
    assert m["feature_mse"] == 0.0
    assert {r["method"] for r in qf.table(m)} == {"Clean", "Noisy", "NLM", "NN", "NN + tweaked features"}
    assert {"fqa_mae", "fqa_mae_constant", "fqa_mae_landmark_oracle"} <= set(m)


def test_tuning_moves_the_query_conv_map_only():
    """The tuned conv map leaves the original one (the database's, and M's reference) as it was,
    and the enhancer too; queries are then described differently against the same database."""
    config = smoke(lr=1.0, lam=1.0, epochs=1)
    stages = qf.prepare(config, CPU)
    rset = dt.load_dataset(config)
    split = dt.splits_of(config, rset)[0]
    base = st.retrieval_backend(config, rset, split, device=CPU)
    run = FeatureRun(config, rset, split, stages, base, CPU)
    sums = run.train_one_epoch(config)
    assert sums["feature_mse"] > 0  # M is measured against a map that did not move with the tuned one
    original = st.retrieval_cnn(config, split, device=CPU)  # as saved by the descriptor stage
    tuned = dict(run.model.conv.named_parameters())
    assert all(torch.equal(p, dict(run.original.named_parameters())[n]) for n, p in original.named_parameters())
    assert any(not torch.equal(p, tuned[n]) for n, p in original.named_parameters())
    pretrained = st.PRETRAIN.load(stages["pretrain"], config, device=CPU)
    assert all(torch.equal(p, dict(run.model.enhancer.named_parameters())[n]) for n, p in pretrained.named_parameters())
    assert run.backend._db is base._db  # the database's descriptors are the original ones
    query = run.enhanced[next(iter(run.enhanced))]
    assert not np.allclose(run.backend.describe(query), base.describe(query))
    x = torch.rand(1, 3, 40, 48)
    expected = torch.nn.functional.normalize(gem(run.model.conv(run.model.enhancer(x).clamp(0, 1))), dim=1)
    assert torch.allclose(run.model(x), expected, atol=1e-6)  # the registered model ranks as the backend does


def test_feature_qa_is_per_split_and_keyed_by_its_labels():
    config = smoke(splits=(0, 1))
    s0, s1 = dt.splits_of(config, dt.load_dataset(config))
    assert fst.FEATURE_QA.full_key(config, s0) != fst.FEATURE_QA.full_key(config, s1)
    assert fst.FEATURE_QA.full_key(config, s0)["labels"] == st.LABELS.full_key(config, s0)
    assert fst.FEATURE_QA.full_key(config, s0) == fst.FEATURE_QA.full_key(smoke(splits=(0, 1), lam=9.0, lr=0.1), s0)
    fqa, metrics = fst.FEATURE_QA.get(config, s0, device=CPU)
    assert 0 <= metrics["mae"] <= 1 and not any(p.requires_grad for p in fqa.parameters())


def test_sr_task_reports_table_12_and_shares_qair_sr_stages():
    from trainables import qair_sr

    config = smoke(task="sr", lr=0.0, epochs=1)
    sr = qair_sr.Config.from_dict(qair_sr.SMOKE | {"local_feature": "cnn"})
    assert st.PRETRAIN.full_key(config) == st.PRETRAIN.full_key(sr)
    m = train_once(config)[0][0]
    assert [r["method"] for r in qf.table(m)] == ["Original", "Down x4", "Bicubic x4", "SR NN", "SR NN + tweaked features"]
    assert m["test_map"] == m["test_map_nn"]


@pytest.mark.parametrize("overrides, message", [
    ({"local_feature": "sift"}, "local_feature must be 'cnn'"),
    ({"task": "joint"}, "task must be 'denoise' or 'sr'"),
    ({"task": "sr", "sigma": 30.0}, "super-resolution takes no sigma"),
    ({"task": "sr", "scale": 1}, "scale must be an integer >= 2"),
])
def test_bad_settings_are_one_line_errors(overrides, message):
    with pytest.raises(UserInputError, match=message):
        smoke(**overrides)
