import json
import subprocess
import sys

import pytest

from sweeps.cli import main

CLI = [sys.executable, "-m", "sweeps.cli"]


def test_describe_digits_json(capsys):
    assert main(["data", "describe", "embedded-digits", "--json"]) == 0
    card = json.loads(capsys.readouterr().out)
    assert card["n_classes"] == 10 and card["n_train"] > card["n_test"] > 0
    assert card["sources"][0]["licence"]


def test_unknown_dataset_is_one_line_and_exit_2():
    proc = subprocess.run(CLI + ["data", "describe", "imagenet"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "tasksweep: error: unknown dataset 'imagenet' (embedded datasets: embedded-landmarks, embedded-digits, embedded-quality)"
    ]


@pytest.mark.slow
def test_embedded_landmarks_is_a_real_benchmark():
    """The issue's bar, measured for real with SIFT: not saturated, and noise hurts."""
    proc = subprocess.run(CLI + ["data", "describe", "embedded-landmarks", "--json"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    card = json.loads(proc.stdout)
    assert card["n_landmarks"] >= 10 and card["n_database"] >= 200
    assert card["n_queries"] >= 5 * card["n_landmarks"]
    assert card["map_clean"] <= 0.95
    assert card["map_clean"] - card["map_sigma50"] >= 0.15
    assert all(s["licence"] and s["attribution"] for s in card["sources"])
    assert "ranking" in proc.stderr  # progress is shown on long work


def test_check_real_dataset_root(tmp_path, capsys):
    import cv2
    import numpy as np

    for cls in ("cat", "dog"):
        (tmp_path / cls).mkdir()
        cv2.imwrite(str(tmp_path / cls / "a.png"), np.zeros((8, 8, 3), np.uint8))
    assert main(["data", "check", "image_folder", "--root", str(tmp_path)]) == 0
    assert "2 items, 2 classes" in capsys.readouterr().out


def test_check_missing_layout_names_the_file(tmp_path):
    proc = subprocess.run(CLI + ["data", "check", "roxford5k", "--root", str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert str(tmp_path / "roxford5k" / "gnd_roxford5k.pkl") in lines[0] and "expected layout" in lines[0]
