"""The contract every registered scheme keeps; a new scheme in SCHEMES is covered with no new code.

Each scheme's ``smoke`` holds config overrides that make ``train`` run in seconds on a CPU. These
tests use it and nothing else scheme-specific.
"""

from pathlib import Path

import pytest
import torch
import yaml

from sweeps.search_space import load_search_space
from trainables.errors import UserInputError
from trainables.registry import SCHEMES

SEARCH_SPACES = Path(__file__).resolve().parents[2] / "search_spaces"
NAMES = sorted(SCHEMES)


def smoke_config(name: str, **overrides):
    return SCHEMES[name].Config.from_dict({**SCHEMES[name].smoke, **overrides})


def run(name: str, config, resume=None) -> list[tuple[dict, dict]]:
    reports = []
    SCHEMES[name].train(config, resume, lambda metrics, state: reports.append((metrics, state)))
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
def test_prepare_names_its_stages(name):
    stages = SCHEMES[name].prepare(smoke_config(name), None)
    assert stages and all(isinstance(k, str) and isinstance(v, str) for k, v in stages.items())


@pytest.mark.parametrize("name", NAMES)
def test_train_reports_each_epoch_with_a_loadable_state(name, two_epochs):
    reports = two_epochs[name]
    assert len(reports) == 2
    for epoch, (metrics, state) in enumerate(reports, start=1):
        assert metrics and all(isinstance(v, float) for v in metrics.values())
        assert state["epoch"] == epoch
    enhancer = SCHEMES[name].build_enhancer(smoke_config(name))
    enhancer.load_state_dict(reports[-1][1]["enhancer"])
    out = SCHEMES[name].enhance(enhancer, torch.rand(1, 3, 40, 48))
    assert out.shape == (1, 3, 40, 48)


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
