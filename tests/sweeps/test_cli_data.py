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
        "tasksweep: error: unknown dataset 'imagenet' (embedded datasets: embedded-landmarks, embedded-digits, embedded-quality, embedded-photo-crops)"
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


def test_embedded_photo_crops_is_a_real_test(capsys):
    """Seed 004's bar, re-measured: a small classifier trained on clean crops is not saturated
    (clean test accuracy ≤ 0.95) and AWGN σ = 0.3 costs it ≥ 0.3; the card says what we measure."""
    from trainables.data import embedded_crops as ec

    assert main(["data", "describe", ec.NAME, "--json"]) == 0
    card = json.loads(capsys.readouterr().out)
    assert len(card["classes"]) == 20 and card["n_train"] > card["n_test"] > 0
    assert all(s["licence"] and s["attribution"] for s in card["sources"])
    x_train, x_test = ec.load("train").tensors[0], ec.load("test").tensors[0]
    assert not {t.numpy().tobytes() for t in x_test} & {t.numpy().tobytes() for t in x_train}  # no crop in both
    measured = ec.measure_difficulty(seed=0)
    recorded = next(d for d in card["difficulty"] if d["classifier"] == measured["classifier"] and d["seed"] == 0)
    assert measured["test_acc_clean"] <= 0.95 and measured["drop"] >= 0.3
    assert abs(measured["test_acc_clean"] - recorded["test_acc_clean"]) <= 0.03
    assert abs(measured["drop"] - recorded["drop"]) <= 0.05
