"""The contract every registered scheme keeps; a new scheme in SCHEMES is covered with no new code.

Each scheme's ``smoke`` holds config overrides that make ``train`` run in seconds on a CPU. These
tests use it and the scheme's declared ``model_io``, nothing else scheme-specific. (The pyfunc
save → fresh-process load → predict of every declared input/output is in
tests/sweeps/test_model_contract.py.)
"""

from pathlib import Path

import pytest
import torch
import yaml

from sweeps.search_space import load_search_space
from trainables.contract import EPOCH, EPOCHS_FIELD, STATE_EPOCH, STATE_MODEL, STOPPED_EARLY
from trainables.errors import UserInputError
from trainables.model_io import ModelIO
from trainables.registry import SCHEMES

SEARCH_SPACES = Path(__file__).resolve().parents[2] / "search_spaces"
NAMES = sorted(SCHEMES)
CPU = torch.device("cpu")


def smoke_config(name: str, **overrides):
    return SCHEMES[name].Config.from_dict({**SCHEMES[name].smoke, **overrides})


def run(name: str, config, resume=None) -> list[tuple[dict, dict]]:
    reports = []
    stages = SCHEMES[name].prepare(config, CPU, None)
    SCHEMES[name].train(config, stages, CPU, resume, lambda metrics, state: reports.append((metrics, state)))
    return reports


@pytest.fixture(scope="module")
def two_epochs() -> dict[str, list[tuple[dict, dict]]]:
    return {name: run(name, smoke_config(name, epochs=2)) for name in NAMES}


def test_registry_is_not_empty():
    assert NAMES


@pytest.mark.parametrize("name", NAMES)
def test_searched_names_are_config_fields(name):
    space = yaml.safe_load((SEARCH_SPACES / f"{name}.yaml").read_text())
    fields = set(SCHEMES[name].Config.__dataclass_fields__)
    assert EPOCHS_FIELD in fields  # the launcher reads it
    assert space and {k.split(".")[0] for k in space} <= fields  # "lams.0": item 0 of lams
    for spec in space.values():
        assert spec["type"] in ("uniform", "loguniform", "int", "choice")


@pytest.mark.parametrize("name", NAMES)
def test_a_searched_point_lands_in_the_config(name):
    point = load_search_space(f"{name}.yaml", SEARCH_SPACES).example()
    config = smoke_config(name, **point)
    for key, value in point.items():
        field, _, index = key.partition(".")
        got = getattr(config, field)
        assert (got[int(index)] if index else got) == pytest.approx(value)


@pytest.mark.parametrize("name", NAMES)
def test_unknown_config_key_is_a_user_error(name):
    with pytest.raises(UserInputError, match="no_such_field"):
        SCHEMES[name].Config.from_dict({"no_such_field": 1})


@pytest.mark.parametrize("name", NAMES)
def test_prepare_hands_over_built_stage_folders(name):
    stages = SCHEMES[name].prepare(smoke_config(name), CPU, None)
    assert stages and all(isinstance(k, str) and isinstance(v, Path) and v.is_dir() for k, v in stages.items())
    assert all((v / "key.json").is_file() for v in stages.values())  # built by the stage kit, complete


@pytest.mark.parametrize("name", NAMES)
def test_train_reports_each_epoch_with_a_loadable_state(name, two_epochs):
    reports = two_epochs[name]
    assert len(reports) == 2
    for epoch, (metrics, state) in enumerate(reports, start=1):
        assert metrics and all(isinstance(v, float) for v in metrics.values())
        assert metrics[EPOCH] == epoch and metrics[STOPPED_EARLY] == 0.0
        assert state[STATE_EPOCH] == epoch
    model = SCHEMES[name].build_model(smoke_config(name))
    model.load_state_dict(reports[-1][1][STATE_MODEL])


@pytest.mark.parametrize("name", NAMES)
def test_the_model_returns_what_its_scheme_declares(name, two_epochs):
    config = smoke_config(name)
    io = SCHEMES[name].model_io(config)
    assert ModelIO.from_dict(io.to_dict()) == io  # the declaration survives its JSON form
    model = SCHEMES[name].build_model(config)
    model.load_state_dict(two_epochs[name][-1][1][STATE_MODEL])
    for scale in getattr(io, "scales", [None]):
        x = torch.rand(io.input_shape(2, 40, 48))  # not the training size
        out = io.run(model, x, scale)
        assert tuple(out.shape) == io.output_shape(tuple(x.shape), scale)
        assert torch.isfinite(out).all()
        if io.returns == "images":
            assert out.min() >= 0 and out.max() <= 1
        if io.returns == "scores":
            assert torch.allclose(out.sum(dim=1), torch.ones(2), atol=1e-5)
        if io.kind == "descriptors":
            assert torch.allclose(out.norm(dim=1), torch.ones(2), atol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_resume_gives_the_uninterrupted_result(name, two_epochs):
    first_state = two_epochs[name][0][1]
    resumed = run(name, smoke_config(name, epochs=2), resume=first_state)
    assert len(resumed) == 1
    assert resumed[0][0] == pytest.approx(two_epochs[name][1][0], rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("name", NAMES)
def test_table_has_rows(name, two_epochs):
    rows = SCHEMES[name].table(two_epochs[name][-1][0])
    assert rows and all(isinstance(r, dict) and r for r in rows)
