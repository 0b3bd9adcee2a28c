"""``tasksweep seeds``: one sweep file over several seeds and the paired comparisons."""

from pathlib import Path

import pandas as pd
import pytest

from sweeps.seeds import Comparison, parse_comparisons, seed_specs, summarize, summarize_by
from tests.sweeps.test_end_to_end import runs_of, tasksweep
from trainables.errors import UserInputError

QRNET = Path(__file__).resolve().parents[2] / "sweeps" / "qrnet.yaml"
FEATURES = Path(__file__).resolve().parents[2] / "sweeps" / "qair_features.yaml"


def test_summary_pairs_metrics_seed_by_seed():
    per_seed = {0: {"a": 0.9, "b": 0.8}, 1: {"a": 0.7, "b": 0.75}, 2: {"a": 0.8, "b": 0.6}}
    rows, verdicts = summarize(per_seed, [Comparison("a", "b")])
    assert [r["metric"] for r in rows] == ["a", "b"]
    assert rows[0]["mean"] == pytest.approx(0.8) and rows[0]["std"] == pytest.approx(0.1)
    assert rows[0]["seed 1"] == 0.7
    (v,) = verdicts
    assert v["A wins"] == "2/3"
    assert v["mean A − B"] == pytest.approx((0.1 - 0.05 + 0.2) / 3, abs=1e-4)
    assert v["min A − B"] == pytest.approx(-0.05)
    assert v["sd A − B"] == pytest.approx(0.1258, abs=1e-4)  # of the differences 0.1, −0.05, 0.2
    with pytest.raises(UserInputError, match="'c'.*seeds \\[1\\]"):
        summarize({0: {"c": 1.0, "a": 1.0}, 1: {"a": 1.0}}, [Comparison("a", "c")])


def test_a_star_pools_every_fold_of_every_seed_as_a_pair():
    # test_map_sr (the joint network's SR half) must not pair with test_map_nn_sr: * is a number
    per_seed = {0: {"test_map_s0": 0.6, "test_map_nn_s0": 0.5, "test_map_s3": 0.4, "test_map_nn_s3": 0.45,
                    "test_map_sr": 0.9, "test_map_nn_sr": 0.1},
                1: {"test_map_s0": 0.7, "test_map_nn_s0": 0.6, "test_map_s3": 0.5, "test_map_nn_s3": 0.4}}
    (c,) = parse_comparisons(["test_map_s*:test_map_nn_s*"])
    assert c.pairs(per_seed[0]) == [("test_map_s0", "test_map_nn_s0"), ("test_map_s3", "test_map_nn_s3")]
    rows, (v,) = summarize(per_seed, [c])
    assert v["A wins"] == "3/4"  # 2 seeds × 2 folds
    assert v["mean A − B"] == pytest.approx((0.1 - 0.05 + 0.1 + 0.1) / 4, abs=1e-4)
    assert [r["metric"] for r in rows] == ["test_map_s0", "test_map_nn_s0", "test_map_s3", "test_map_nn_s3"]
    assert Comparison("acc_s*", "acc_base_s*").pairs({"acc_s0.3": 1.0, "acc_base_s0.3": 0.5, "acc_s0.5": 1.0}) == [
        ("acc_s0.3", "acc_base_s0.3")]  # σ 0.5 has no B: no pair
    with pytest.raises(UserInputError, match="one \\* in both"):
        parse_comparisons(["test_map_s*:test_map_nn"])
    with pytest.raises(UserInputError, match="no metric pair matches.*seeds \\[1\\]"):
        summarize({0: {"a_s1": 1.0, "b_s1": 0.0}, 1: {"a": 1.0}}, [Comparison("a_s*", "b_s*")])


def test_bad_comparisons_and_seeds_are_user_errors():
    with pytest.raises(UserInputError, match="METRIC_A:METRIC_B"):
        parse_comparisons(["test_acc_avg"])
    with pytest.raises(UserInputError, match="distinct"):
        seed_specs(QRNET, [1, 1], smoke=True, assignments=[])


def test_each_seed_is_its_own_sweep_with_data_and_sampler_seeded():
    specs = seed_specs(QRNET, [3, 5], smoke=True, assignments=["num_samples=1"])
    assert [s.name for s in specs] == ["qrnet_digits_seed3", "qrnet_digits_seed5"]
    assert [(s.seed, s.fixed["seed"], s.num_samples) for s in specs] == [(3, 3, 1), (5, 5, 1)]


@pytest.mark.slow
def test_seeds_command_launches_each_seed_and_compares(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    # promote.where says what may be deployed; no trial satisfies it, and the comparison still reads them
    # (qair_features: the scheme whose smoke stages are cheapest to build for a new seed)
    args = ["seeds", str(FEATURES), "--smoke", "--seeds", "0", "1", "--set", "num_samples=1", "--set", "promote.where=[test_map>2]",
            "--compare", "test_map:test_map_nn", "--tracking-uri", uri]
    proc = tasksweep(tmp_path, *args)
    assert "seed 1: sweep 'qair_features_sigma50_seed1' (2/2)" in proc.stderr
    metrics = pd.read_csv(tmp_path / "reports" / "qair_features_sigma50_seeds" / "metrics.csv").set_index("metric")
    for seed in (0, 1):
        client, parents, trials = runs_of(uri, f"qair_features_sigma50_seed{seed}")
        assert len(parents) == 1 and len(trials) == 1
        assert trials[0].data.params["seed"] == str(seed)  # the scheme's seed, not only Optuna's
        assert metrics.loc["test_map", f"seed {seed}"] == pytest.approx(trials[0].data.metrics["test_map"], abs=1e-4)
    comparisons = (tmp_path / "reports" / "qair_features_sigma50_seeds" / "comparisons.md").read_text()
    assert "test_map" in comparisons and "/2 |" in comparisons
    client, _, _ = runs_of(uri, "qair_features_sigma50_seed0")
    (summary,) = client.search_runs([client.get_experiment_by_name("qair_features_sigma50_seeds").experiment_id])
    assert summary.data.tags["best_run.seed1"] == runs_of(uri, "qair_features_sigma50_seed1")[2][0].info.run_id
    assert {a.path for a in client.list_artifacts(summary.info.run_id, "tables")} >= {"tables/comparisons.md", "tables/metrics.json"}
    again = tasksweep(tmp_path, *args, "--no-launch")  # reads MLflow only: no new sweep
    assert "sweep 'qair_features_sigma50_seed" not in again.stderr
    assert [len(runs_of(uri, f"qair_features_sigma50_seed{s}")[1]) for s in (0, 1)] == [1, 1]
    bad = tasksweep(tmp_path, "seeds", str(FEATURES), "--compare", "nocolon", "--tracking-uri", uri, check=False)
    assert bad.returncode == 2 and bad.stderr.strip().splitlines()[-1].startswith("tasksweep: error: --compare expects")


def test_by_param_compares_every_value_and_names_the_preferred_one():
    per_seed = {  # seed -> value of gamma -> a trial's metrics
        0: {"0.1": {"val": 1.0, "a": 2.0, "b": 1.0}, "1.0": {"val": 2.0, "a": 1.0, "b": 1.5}},
        1: {"0.1": {"val": 3.0, "a": 2.0, "b": 1.0}, "1.0": {"val": 2.5, "a": 3.0, "b": 1.0}, "9": {"val": 9.0, "a": 0, "b": 0}},
    }
    by_value, chosen = summarize_by(per_seed, "gamma", [Comparison("a", "b")], "val", "max")
    assert [r["gamma"] for r in by_value] == ["0.1", "1.0"]  # "9" ran on one seed only: no paired row
    assert by_value[0]["A wins"] == "2/2" and by_value[1]["A wins"] == "1/2"
    assert by_value[1]["mean A − B"] == pytest.approx((-0.5 + 2.0) / 2)
    assert [(r["gamma"], r["best on seeds"]) for r in chosen] == [("0.1", "1"), ("1.0", "0")]
    assert chosen[1]["val mean"] == pytest.approx(2.25)
    with pytest.raises(UserInputError, match="no value"):
        summarize_by({0: {"1": {"val": 1.0}}, 1: {"2": {"val": 1.0}}}, "gamma", [], "val", "max")
