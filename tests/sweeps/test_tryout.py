"""``sweeps.tryout`` on every model kind: toy models registered in a temp registry (SQLite), tried
in-process on a photo, with the baseline and the scores each kind calls for."""

import json

import cv2
import mlflow
import numpy as np
import pytest
import skimage.data
import torch

from sweeps.checkpoint import MODEL_FILE, write_model_config
from sweeps.mlflow_layout import tracking_uri_set
from sweeps.pyfunc_spec import pyfunc_arguments
from sweeps.tryout import IO_TAG, Catalog, Degradation, baseline, default_degradation, read_image, try_model
from tests.toy_schemes import TOYS
from trainables.errors import UserInputError
from trainables.registry import SCHEMES


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    root = tmp_path_factory.mktemp("registry")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as mp:
        for name, scheme in TOYS.items():
            mp.setitem(SCHEMES, name, scheme)
        with tracking_uri_set(uri):
            register_toys(uri, root)
        yield Catalog(uri, "http://127.0.0.1:5000")


def register_toys(uri, root) -> None:
    """Each toy logged and registered as ``promote`` does it: tagged with its io, alias champion; and
    qair_features' model untrained (a real scheme whose model needs no stage to be built)."""
    mlflow.set_experiment(experiment_name="toys")
    client = mlflow.MlflowClient(uri)
    for name in ("toy_multiscale", "toy_classify", "toy_judge", "toy_features", "qair_features"):
        scheme, folder = TOYS.get(name) or SCHEMES[name], root / name
        folder.mkdir()
        config = scheme.Config.from_dict(scheme.smoke)
        torch.save(scheme.build_model(config).state_dict(), folder / MODEL_FILE)
        write_model_config(folder, scheme, config)
        with mlflow.start_run():
            info = mlflow.pyfunc.log_model(name="model", registered_model_name=name, pip_requirements=["torch"],
                                           **pyfunc_arguments(folder))
        version = str(info.registered_model_version)
        client.set_model_version_tag(name, version, IO_TAG, json.dumps(scheme.model_io(config).to_dict()))
        client.set_registered_model_alias(name, "champion", version)


def photo() -> np.ndarray:
    return skimage.data.astronaut()[100:196, 150:246]  # 96×96 RGB


def test_catalog_lists_versions_aliases_and_links(catalog):
    models = {m["name"]: m for m in catalog.models()}
    assert set(models) == {"toy_multiscale", "toy_classify", "toy_judge", "toy_features", "qair_features"}
    version = models["toy_classify"]["versions"][0]
    assert version["aliases"] == ["champion"] and version["io"]["kind"] == "class_scores"
    assert version["links"]["model_version"] == "http://127.0.0.1:5000/#/models/toy_classify/versions/1"
    assert "/runs/" in version["links"]["run"] and "workflowType=machine_learning" in version["links"]["run"]
    assert catalog.load("toy_classify", "champion") is catalog.load("toy_classify", "1")  # loaded once
    with pytest.raises(UserInputError, match="no registered model 'toy_classify' with version or alias 'best'"):
        catalog.load("toy_classify", "best")


def test_super_resolution_is_scored_against_the_upload_beside_bicubic(catalog):
    loaded = catalog.load("toy_multiscale", "champion")
    result = try_model(loaded, photo(), Degradation(scale=3), degrade=True)
    titles = [p["title"] for p in result["panels"]]
    assert titles == ["reference (your upload)", "input (degraded here)", "toy_multiscale v1", "baseline: bicubic"]
    assert result["panels"][1]["scores"] == {}  # the 32×32 input cannot be compared with the 96×96 upload
    assert {"PSNR (dB)", "SSIM"} <= set(result["panels"][2]["scores"]) and result["panels"][3]["scores"]["PSNR (dB)"] > 20
    with pytest.raises(UserInputError, match="serves scale 2, 3, not 4"):
        try_model(loaded, photo(), Degradation(scale=4), degrade=True)


def test_classifier_shows_top_classes_and_a_judge_scores_every_panel(catalog):
    result = try_model(catalog.load("toy_classify", "champion"), photo(), Degradation(noise_sigma=30), degrade=True,
                       judge=catalog.load("toy_judge", "champion"))
    for panel in result["panels"]:  # the clean upload and the noisy input
        tops = [k for k in panel["scores"] if k.startswith("top")]
        assert len(tops) == 3 and {k.split(": ")[1] for k in tops} == {"cat", "dog", "bird"}
        assert 1 <= panel["scores"]["toy_judge score"] <= 10
    with pytest.raises(UserInputError, match="is not a judge"):
        try_model(catalog.load("toy_classify", "1"), photo(), Degradation(), False, judge=catalog.load("toy_classify", "1"))


def test_feature_models_cannot_be_tried_on_an_image(catalog):
    with pytest.raises(UserInputError, match="takes features from toy extractor, not images"):
        try_model(catalog.load("toy_features", "champion"), photo(), Degradation(), degrade=False)


def test_a_descriptor_model_shows_how_far_the_degradation_moves_the_descriptor(catalog):
    result = try_model(catalog.load("qair_features", "champion"), photo(), Degradation(noise_sigma=50), degrade=True)
    key = "descriptor cosine to the first panel's"
    assert [p["title"] for p in result["panels"]] == ["reference (your upload)", "input (degraded here)"]
    assert result["panels"][0]["scores"][key] == pytest.approx(1.0, abs=1e-4)  # unit descriptors
    assert -1 <= result["panels"][1]["scores"][key] < 1


def test_classical_baselines_undo_what_was_applied():
    clean = photo()
    noisy = Degradation(noise_sigma=40).apply(clean)
    name, denoised = baseline(noisy, Degradation(noise_sigma=40))
    mse = lambda a: np.mean((a.astype(float) - clean) ** 2)  # noqa: E731
    assert name == "NLM" and mse(denoised) < mse(noisy) / 3
    blurred = Degradation(blur_sigma=1.5).apply(clean)
    name, sharp = baseline(blurred, Degradation(blur_sigma=1.5))
    assert name == "Wiener" and mse(sharp) < mse(blurred)
    assert baseline(clean, Degradation())[0] == "input (nothing to undo)"


def test_default_degradation_is_what_the_scheme_trained_on():
    assert default_degradation("qair_denoise", {"sigma": 90.0}, 1) == Degradation(noise_sigma=90.0)
    assert default_degradation("nima_sr", {"task": "deblur", "deblur_sigma": 1.2}, 4) == Degradation(scale=4, blur_sigma=1.2)
    assert default_degradation("nima_sr", {"task": "sr"}, 4) == Degradation(scale=4)
    assert default_degradation("qrnet", {"noise_levels": [20, 40, 60]}, 1) == Degradation(noise_sigma=40.0)
    assert default_degradation("fsr_gan", {}, 1) == Degradation()  # declares none


def test_uploads_that_are_not_images_or_too_large_are_refused():
    ok, png = cv2.imencode(".png", photo())
    assert read_image(png.tobytes()).shape == (96, 96, 3)
    for data, words in ((b"", "no image"), (b"GIF89a....", "not a PNG or JPEG"),
                        (b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "could not be decoded"),
                        (cv2.imencode(".png", np.zeros((2100, 8, 3), np.uint8))[1].tobytes(), "2048 pixels per side")):
        with pytest.raises(UserInputError, match=words):
            read_image(data)
