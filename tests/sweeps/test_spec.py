import subprocess
import sys

import pytest
import yaml

from sweeps.mlflow_layout import flatten
from sweeps.report import pareto_front, to_markdown
from sweeps.spec import apply_set, load_sweep, resolve
from tests.toy_schemes import TOYS
from trainables.errors import UserInputError
from trainables.registry import SCHEMES

BASE = {
    "name": "t",
    "scheme": "qair_denoise",
    "search_space": {"lam": {"type": "loguniform", "low": 1e-3, "high": 10.0}},
    "fixed": {"epochs": 2},
    "objectives": [{"metric": "val_map", "mode": "max"}],
    "num_samples": 3,
    "smoke": {"num_samples": 1, "fixed": {"epochs": 1}},
}


def spec_of(**changes):
    return resolve({**BASE, **changes}, base_dir=__import__("pathlib").Path("."))


def test_valid_spec_and_smoke_merge():
    spec = resolve(BASE, __import__("pathlib").Path("."), smoke=True)
    assert spec.num_samples == 1 and spec.fixed == {**SCHEMES["qair_denoise"].smoke, "epochs": 1}
    assert list(spec.search_space.params) == ["lam"]


def test_smoke_lays_scheme_sizes_then_file_smoke_then_set(monkeypatch):
    monkeypatch.setitem(SCHEMES, "toy_upscale2", TOYS["toy_upscale2"])  # smoke: epochs 2, steps_per_epoch 2
    raw = {"name": "t", "scheme": "toy_upscale2", "search_space": {"lr": {"type": "loguniform", "low": 1e-3, "high": 1.0}},
           "fixed": {"epochs": 9, "steps_per_epoch": 9, "width": 9}, "objectives": [{"metric": "val_loss", "mode": "min"}],
           "num_samples": 8, "smoke": {"num_samples": 1, "fixed": {"steps_per_epoch": 1}}}
    spec = resolve(raw, __import__("pathlib").Path("."), smoke=True, assignments=["fixed.epochs=3"])
    # epochs: scheme 2, then --set 3; steps_per_epoch: scheme 2, then the file's smoke 1; width: the file's own
    assert spec.fixed == {"epochs": 3, "steps_per_epoch": 1, "width": 9} and spec.num_samples == 1
    assert resolve(raw, __import__("pathlib").Path(".")).fixed == raw["fixed"]  # without --smoke: as written


def test_set_overrides_nested_keys_with_yaml_values():
    raw = apply_set(BASE, ["fixed.sigma=90", "num_samples=5", "objectives=[{metric: val_psnr, mode: max}]"])
    assert raw["fixed"] == {"epochs": 2, "sigma": 90} and raw["num_samples"] == 5
    assert raw["objectives"][0]["metric"] == "val_psnr"
    assert BASE["fixed"] == {"epochs": 2}  # the input is not mutated


@pytest.mark.parametrize("changes, message", [
    ({"scheme": "nope"}, "unknown scheme 'nope'"),
    ({"search_space": {"lamda": {"type": "uniform", "low": 0, "high": 1}}}, "'lamda' is not a field"),
    ({"search_space": {"lam": {"type": "loguniform", "low": 0.0, "high": 1}}}, "must be positive"),
    ({"search_space": {"lam": {"type": "uniform", "low": 2, "high": 1}}}, "must be below high"),
    ({"search_space": {"lam": {"type": "gaussian", "low": 0, "high": 1}}}, "needs 'type'"),
    ({"fixed": {"epochs": 2, "lam": 1.0}}, "both searched and fixed"),
    ({"search_space": {"lam.0": {"type": "uniform", "low": 0, "high": 1}}}, "'lam' is not a list"),
    ({"scheme": "mqrnet", "fixed": {}, "search_space": {"lams.2": {"type": "uniform", "low": 0, "high": 1}}}, "'lams' has 2 items"),
    ({"fixed": {"epochs": 2, "sigmaa": 3}}, "no field 'sigmaa'"),
    ({"fixed": {"epochs": "two"}}, "must be an integer"),
    ({"objectives": [{"metric": "val_map", "mode": "up"}]}, "mode: max|min"),
    ({"scheduler": "asha", "objectives": [{"metric": "a", "mode": "max"}, {"metric": "b", "mode": "max"}]}, "takes one objective"),
    ({"num_samples": 0}, "'num_samples' must be an integer ≥ 1, got 0"),
    ({"max_failures": -1}, "'max_failures' must be an integer ≥ 0, got -1"),
    ({"max_failures": "twice"}, "'max_failures' must be an integer ≥ 0"),
    ({"colour": "red"}, "unknown sweep field"),
    ({"resources_per_trial": {"tpu": 1}}, "takes cpu and gpu"),
    ({"sampler": "random"}, "'tpe' or 'grid'"),
    ({"sampler": "grid"}, "lam is a range"),
    ({"sampler": "grid", "search_space": {"lam": {"type": "choice", "values": [0.1, 1.0]}}}, "exceeds the grid's 2 points"),
])
def test_bad_sweeps_are_user_errors(changes, message):
    with pytest.raises(UserInputError, match=message):
        spec_of(**changes)


def test_grid_sampler_accepts_a_partial_grid():
    spec = spec_of(sampler="grid", num_samples=2, search_space={"lam": {"type": "choice", "values": [0.1, 1.0, 10.0]}})
    assert spec.sampler == "grid" and spec.search_space.to_grid() == {"lam": [0.1, 1.0, 10.0]}


def test_bad_set_and_bad_yaml(tmp_path):
    with pytest.raises(UserInputError, match="key=value"):
        apply_set(BASE, ["num_samples"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(UserInputError, match="not valid YAML"):
        load_sweep(bad)
    with pytest.raises(UserInputError, match="does not exist"):
        load_sweep(tmp_path / "missing.yaml")


def test_search_space_file_path_is_resolved(tmp_path):
    (tmp_path / "space.yaml").write_text(yaml.safe_dump({"lr": {"type": "loguniform", "low": 1e-4, "high": 1e-2}}))
    sweep = tmp_path / "s.yaml"
    sweep.write_text(yaml.safe_dump({**BASE, "search_space": "space.yaml"}))
    assert list(load_sweep(sweep).search_space.params) == ["lr"]


def test_cli_bad_input_is_one_line_exit_2_before_ray(tmp_path):
    sweep = tmp_path / "s.yaml"
    sweep.write_text(yaml.safe_dump({**BASE, "scheme": "nope"}))
    proc = subprocess.run([sys.executable, "-m", "sweeps.cli", "launch", str(sweep), "--tracking-uri", f"sqlite:///{tmp_path}/m.db"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tasksweep: error: unknown scheme 'nope' (known: qair_denoise")
    assert not (tmp_path / "m.db").exists() and not (tmp_path / "ray_results").exists()  # nothing started


def test_pareto_front_respects_modes():
    points = [[0.5, 30.0], [0.6, 29.0], [0.4, 31.0], [0.5, 29.5], [0.6, 28.0]]
    assert sorted(pareto_front(points, ["max", "max"])) == [0, 1, 2]
    assert pareto_front(points, ["max", "min"]) == [4]  # (0.6, 28) dominates every other point


def test_markdown_leaves_missing_cells_empty():
    import pandas as pd

    df = pd.DataFrame([{"method": "clean input", "acc": 0.98}, {"method": "QRNet", "acc": 0.5, "psnr": 25.0}])
    assert to_markdown(df).splitlines()[2] == "| clean input | 0.9800 |  |"


def test_flatten_nested_dicts():
    assert flatten({"a": {"b": 1, "c": {"d": 2}}, "e": 3}) == {"a.b": 1, "a.c.d": 2, "e": 3}


def test_presets_extend_the_paper_preset():
    from sweeps.spec import SWEEPS_DIR

    sigma90 = load_sweep(SWEEPS_DIR / "qair_denoise_sigma90.yaml")
    assert sigma90.name == "qair_denoise_sigma90" and sigma90.fixed["sigma"] == 90
    assert sigma90.fixed["splits"] == [0, 1, 2]  # inherited from qair_denoise.yaml
    ranged = load_sweep(SWEEPS_DIR / "qair_denoise_sigma30_60.yaml", smoke=True)
    assert ranged.fixed["sigma_max"] == 60 and ranged.fixed["epochs"] == 2  # smoke section inherited too
    demo = load_sweep(SWEEPS_DIR / "demo.yaml")
    assert demo.multi_objective and demo.scheduler == "fifo"


@pytest.mark.parametrize("smoke", [False, True])
def test_every_shipped_preset_resolves(smoke):
    from sweeps.spec import SWEEPS_DIR

    presets = sorted(SWEEPS_DIR.glob("*.yaml"))
    assert {"qrnet_end_to_end.yaml", "qrnet_small.yaml", "mqrnet.yaml"} <= {p.name for p in presets}
    for path in presets:
        assert load_sweep(path, smoke=smoke).name
    assert load_sweep(SWEEPS_DIR / "qrnet_end_to_end.yaml").fixed["classifier_mode"] == "end_to_end"
    assert load_sweep(SWEEPS_DIR / "qrnet_small.yaml", smoke=True).fixed["qrnet_small"] is True


def test_base_cycle_is_a_user_error(tmp_path):
    (tmp_path / "a.yaml").write_text("base: b.yaml\nname: a\n")
    (tmp_path / "b.yaml").write_text("base: a.yaml\nname: b\n")
    with pytest.raises(UserInputError, match="cycle"):
        load_sweep(tmp_path / "a.yaml")
