"""Every registered model as MLflow serves it: what the scheme declares is what a user gets.

For each scheme in ``SCHEMES`` and each toy scheme, a pyfunc is saved from fresh random weights
exactly as ``promote`` logs one (``model.pt`` + ``config.json``, signature, input example and
metadata from ``sweeps.pyfunc_spec``). Then ONE fresh process (a user's, with no state of ours)
loads them all with ``mlflow.pyfunc.load_model`` and predicts odd-sized images: uint8 through the
enforced signature, float32 through ``unwrap_python_model()``; it also runs the champion check
(``sweeps.champion_check``) on each. The outputs are checked here against the declaration. A new
scheme in ``SCHEMES`` is covered with no new code.
"""

import json
import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import pytest
import torch

from sweeps.checkpoint import MODEL_FILE, write_model_config
from sweeps.pyfunc_model import features_to_tensor, images_to_tensor
from sweeps.pyfunc_spec import pyfunc_arguments
from tests.toy_schemes import TOYS
from trainables.model_io import Images
from trainables.registry import SCHEMES

ALL = {**SCHEMES, **TOYS}
NAMES = sorted(ALL)
N, H, W = 2, 37, 45  # odd sizes: no model may assume a multiple of 2, 4 or 8

# Run in a fresh interpreter; argv[1]: {name: saved model path}.
# Prints {name: {"calls": [call, ...], "check": champion check JSON} | error}.
CHILD = r"""
import json, sys
import mlflow, numpy as np
from sweeps.champion_check import check
from tests.toy_schemes import register

register()  # the toys are test-only: a fresh process adds them before loading their models
N, H, W = 2, 37, 45
uint8 = np.random.default_rng(0).integers(0, 256, (N, H, W, 3), dtype=np.uint8)
float32 = uint8.astype(np.float32) / 255
seen = {}
for name, path in json.loads(sys.argv[1]).items():
    try:
        model = mlflow.pyfunc.load_model(path)
        io = model.metadata.metadata["model_io"]
        scales = io.get("scales", [None]) if io["kind"] == "images" else [None]
        if io["kind"] == "features":
            x = np.random.default_rng(0).random((N, io["dim"]), dtype=np.float32)
            inputs = {"features": (x, x)}
        else:
            inputs = {"uint8": (uint8, float32)}
        calls = []
        for label, (served, raw) in inputs.items():
            for scale in scales:
                params = {"scale": scale} if len(scales) > 1 else None
                for how, out in (("load_model", model.predict(served, params=params)),
                                 ("unwrap", model.unwrap_python_model().predict(raw, params=params))):
                    sums = out.astype(np.float64).sum(axis=1).tolist() if out.ndim == 2 else None
                    calls.append({"how": how, "scale": scale, "shape": list(out.shape), "dtype": str(out.dtype), "sums": sums})
        if len(scales) > 1:  # no params: the default, the largest scale
            out = model.predict(uint8)
            calls.append({"how": "load_model", "scale": None, "shape": list(out.shape), "dtype": str(out.dtype), "sums": None})
        seen[name] = {"calls": calls, "check": check(path, sigma=30)}
    except Exception as e:
        seen[name] = f"{type(e).__name__}: {e}"
print(json.dumps(seen))
"""


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> dict[str, Path | str]:
    """{name: saved pyfunc folder, or the error that prevented saving it}."""
    root = tmp_path_factory.mktemp("pyfuncs")
    out = {}
    with pytest.MonkeyPatch.context() as mp:
        for name, scheme in TOYS.items():
            mp.setitem(SCHEMES, name, scheme)
        for name in NAMES:
            scheme = ALL[name]
            folder = root / name
            folder.mkdir()
            try:
                config = scheme.Config.from_dict(scheme.smoke)
                torch.save(scheme.build_model(config).state_dict(), folder / MODEL_FILE)
                write_model_config(folder, scheme, config)
                # pip_requirements given: inferring them loads each model in yet another process
                mlflow.pyfunc.save_model(str(folder / "pyfunc"), pip_requirements=["torch"], **pyfunc_arguments(folder))
                out[name] = folder / "pyfunc"
            except Exception as e:
                out[name] = f"{type(e).__name__}: {e}"
    return out


@pytest.fixture(scope="module")
def served(saved) -> dict[str, list[dict] | str]:
    paths = {name: str(path) for name, path in saved.items() if isinstance(path, Path)}
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, "-c", CHILD, json.dumps(paths)], capture_output=True, text=True, cwd=root,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {**{n: e for n, e in saved.items() if isinstance(e, str)}, **json.loads(proc.stdout.strip().splitlines()[-1])}


def declared(name: str):
    scheme = ALL[name]
    return scheme.model_io(scheme.Config.from_dict(scheme.smoke))


@pytest.mark.parametrize("name", NAMES)
def test_served_model_returns_what_its_scheme_declares(name, served):
    assert not isinstance(served[name], str), served[name]
    calls = served[name]["calls"]
    io = declared(name)
    assert calls
    for call in calls:
        if io.takes == "features":
            shape = io.output_shape((N, io.dim))
        else:
            shape = io.output_shape((N, 3, H, W), call["scale"])
        if io.returns == "images":  # uint8 in → uint8 out, float32 in → float32 out
            expected = ((N, shape[2], shape[3], 3), "uint8" if call["how"] == "load_model" else "float32")
        else:
            expected = (shape, "float32")
        assert (tuple(call["shape"]), call["dtype"]) == expected, call
        if io.returns == "scores":
            assert np.allclose(call["sums"], 1.0, atol=1e-4), call


@pytest.mark.parametrize("name", NAMES)
def test_champion_check_probes_by_the_declaration(name, served):
    assert not isinstance(served[name], str), served[name]
    seen, io = served[name]["check"], declared(name)
    assert seen["problems"] == [] and seen["io"] == io.to_dict()
    if isinstance(io, Images) and max(io.scales) == 1:
        assert seen["shape"] == [1, 256, 256, 3] and seen["sigma"] == 30 and {"psnr_noisy", "psnr_denoised"} <= set(seen)
    elif isinstance(io, Images):
        s = max(io.scales)
        size = 256 - 256 % s
        assert seen["scale"] == s and seen["shape"] == [1, size, size, 3] and {"psnr_model", "psnr_bicubic"} <= set(seen)
        assert 20 < seen["psnr_bicubic"] < 40  # the bicubic baseline on a real photo
    elif io.kind == "class_scores":
        assert set(seen["top_classes"]) <= set(io.classes) and seen["dtype"] == "float32"
    elif io.kind == "score_distribution":
        assert all(min(io.scores) <= m <= max(io.scores) for m in seen["mean_scores"])
    elif io.kind == "features":
        assert seen["shape"] == [4, io.dim] and seen["dtype"] == "float32"
    elif io.kind == "descriptors" and io.scale > 1:  # unit norm is among the problems checked above
        assert seen["shape"] == [1, io.dim] and seen["scale"] == io.scale
    elif io.kind == "descriptors":
        assert seen["shape"] == [2, io.dim] and seen["sigma"] == 30 and -1 <= seen["cosine_clean_noisy"] <= 1
    else:
        raise AssertionError(f"no probe expectation for {io.kind}")


@pytest.mark.parametrize("name", NAMES)
def test_saved_model_carries_the_declaration(name, saved):
    assert isinstance(saved[name], Path), saved[name]
    info = mlflow.models.Model.load(str(saved[name]))
    io = declared(name)
    assert info.metadata["model_io"] == io.to_dict()
    inputs = info.signature.inputs.inputs[0]
    assert inputs.type == (np.dtype(np.uint8) if io.takes == "images" else np.dtype(np.float32))
    params = info.signature.params
    if isinstance(io, Images) and io.multi_scale:
        assert params.params[0].name == "scale" and params.params[0].default == max(io.scales)
    else:
        assert params is None


def test_wrong_inputs_are_value_errors_naming_the_expected_shape():
    with pytest.raises(ValueError, match=r"\(N, H, W, 3\).*got shape \(2, 3, 8, 8\)"):
        images_to_tensor(np.zeros((2, 3, 8, 8), np.uint8))
    with pytest.raises(ValueError, match="got dtype float64"):
        images_to_tensor(np.zeros((1, 8, 8, 3)))
    with pytest.raises(ValueError, match=r"float32 values in \[0, 255\]"):
        images_to_tensor(np.linspace(0, 255, 8 * 8 * 3, dtype=np.float32).reshape(1, 8, 8, 3))  # 0-255 as float
    with pytest.raises(ValueError, match=r"shape \(N, 8\)"):
        features_to_tensor(np.zeros((2, 5), np.float32), 8)
