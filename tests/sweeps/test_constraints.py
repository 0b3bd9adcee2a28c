"""Constraints that pick a Pareto point for ``promote`` (``--where``, ``promote.where``)."""

from pathlib import Path

import pytest

from sweeps.constraints import Constraint, parse, parse_all
from sweeps.spec import resolve
from tests.sweeps.test_spec import BASE
from trainables.errors import UserInputError


def test_a_constraint_compares_with_a_number_or_another_metric():
    assert parse("val_psnr>=25") == Constraint("val_psnr", ">=", 25.0)
    assert parse(" val_map > val_map_nn ") == Constraint("val_map", ">", "val_map_nn")
    metrics = {"val_psnr": 25.0, "val_map": 0.6, "val_map_nn": 0.6}
    assert parse("val_psnr>=25").holds(metrics) and not parse("val_psnr>25").holds(metrics)
    assert parse("val_map>=val_map_nn").holds(metrics) and not parse("val_map<val_map_nn").holds(metrics)
    assert parse("val_map<=1e-1").right == pytest.approx(0.1)


def test_a_missing_metric_never_satisfies():
    assert not parse("val_ssim>=0").holds({"val_psnr": 30.0})
    assert not parse("val_psnr>=val_psnr_nn").holds({"val_psnr": 30.0})


@pytest.mark.parametrize("bad", ["val_psnr=25", "val_psnr", ">=3", "val_psnr>=2 5", "val_psnr>=(x)"])
def test_a_malformed_constraint_is_one_line(bad):
    with pytest.raises(UserInputError, match="constraint"):
        parse(bad)


def test_the_sweep_file_where_is_checked_at_load():
    with pytest.raises(UserInputError, match="must be a list"):
        parse_all("val_psnr>=25")
    with pytest.raises(UserInputError, match="val_psnr=>25"):
        resolve({**BASE, "promote": {"where": ["val_psnr=>25"]}}, base_dir=Path("."))
    assert resolve({**BASE, "promote": {"where": ["val_psnr>=25"]}}, base_dir=Path(".")).promote["where"] == ["val_psnr>=25"]
