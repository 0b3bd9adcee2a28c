"""Try a registered model on an image you bring: its output beside the scheme's baseline, with scores.

The logic behind ``tasksweep ui`` (``sweeps.ui_app`` is only the web adapter):

- ``Catalog.models()``: the registered models that ``tasksweep promote`` made (they carry the
  ``tasksweep.model_io`` tag), their versions and aliases, and links into the MLflow UI;
- ``Catalog.load(name, version)``: a version (or an alias such as ``champion``) loaded once with
  ``mlflow.pyfunc.load_model`` and cached;
- ``Degradation``: what the scheme's inputs went through in training (bicubic downscale by the
  model's scale, Gaussian blur, AWGN), applied on the server to a clean upload so the page can
  score against it;
- ``try_model``: the model's output, the baseline's and the scores under each.

Baselines are the schemes' own: bicubic for super-resolution; for same-size restoration NLM
(qair's classical denoiser) when the input is noisy, and a Wiener deconvolution with the known
Gaussian when it is blurred. Scores: PSNR/SSIM against the clean upload when the degradation was
applied here, a registered NIMA-style judge's mean score when one is picked, top-5 classes for
classifiers.
"""

from __future__ import annotations

import base64
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from trainables.errors import UserInputError

MAX_UPLOAD_BYTES = 8 * 1024 * 1024
MAX_SIDE = 2048  # pixels per side of an upload: larger ones would take minutes on a CPU
MODELS_CACHED = 4  # loaded versions kept in memory
IO_TAG, SOURCE_TAG = "tasksweep.model_io", "tasksweep.source_run"  # written by ``promote``


def read_image(data: bytes) -> np.ndarray:
    """PNG or JPEG bytes → RGB uint8 (H, W, 3); anything else is a ``UserInputError``."""
    if not data:
        raise UserInputError("no image was uploaded")
    if len(data) > MAX_UPLOAD_BYTES:
        raise UserInputError(f"the upload is {len(data) / 2**20:.1f} MiB; the limit is {MAX_UPLOAD_BYTES // 2**20} MiB")
    if not (data.startswith(b"\x89PNG\r\n\x1a\n") or data.startswith(b"\xff\xd8\xff")):
        raise UserInputError("the upload is not a PNG or JPEG image")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise UserInputError("the upload looks like a PNG or JPEG but could not be decoded")
    if max(image.shape[:2]) > MAX_SIDE:
        raise UserInputError(f"the image is {image.shape[1]}×{image.shape[0]}; the limit is {MAX_SIDE} pixels per side")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def png_data_url(image: np.ndarray) -> str:
    ok, buf = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    return "data:image/png;base64," + base64.b64encode(buf.tobytes()).decode()


@dataclass(frozen=True)
class Degradation:
    """Downscale (MATLAB bicubic, 1/scale), then Gaussian blur (σ px), then AWGN (σ, 0–255), seeded."""

    scale: int = 1
    blur_sigma: float = 0.0
    noise_sigma: float = 0.0

    def __post_init__(self):
        if self.scale < 1 or self.blur_sigma < 0 or self.noise_sigma < 0:
            raise UserInputError(f"degradation needs scale ≥ 1 and σ ≥ 0, got scale {self.scale}, "
                                 f"blur σ {self.blur_sigma:g}, noise σ {self.noise_sigma:g}")
        if self.blur_sigma > 10 or self.noise_sigma > 255:
            raise UserInputError(f"blur σ must be ≤ 10 px and noise σ ≤ 255, got {self.blur_sigma:g} and {self.noise_sigma:g}")

    def reference(self, image: np.ndarray) -> np.ndarray:
        """The clean image the output is scored against: cropped to a multiple of the scale."""
        h, w = (n - n % self.scale for n in image.shape[:2])
        return image[:h, :w]

    def apply(self, image: np.ndarray) -> np.ndarray:
        import torch

        from sweeps.champion_check import imresize, to_uint8
        from trainables.data.degradations import gaussian_blur

        x = self.reference(image)[None].astype(np.float32) / 255.0
        if self.scale > 1:
            x = imresize(x, 1.0 / self.scale)
        if self.blur_sigma > 0:
            x = gaussian_blur(torch.from_numpy(x).permute(0, 3, 1, 2), self.blur_sigma).permute(0, 2, 3, 1).numpy()
        if self.noise_sigma > 0:
            x = x + np.random.default_rng(0).normal(0.0, self.noise_sigma / 255.0, x.shape)
        return to_uint8(x[0])


def default_degradation(scheme_name: str, config: dict, scale: int) -> Degradation:
    """What the scheme's training inputs went through (``Scheme.input_degradation``), at ``scale``."""
    from trainables.registry import get_scheme

    scheme = get_scheme(scheme_name)
    declared = scheme.input_degradation(scheme.Config.from_dict(config)) if scheme.input_degradation else {}
    return Degradation(scale=scale, **{k: float(v) for k, v in declared.items()})


def baseline(x: np.ndarray, degradation: Degradation) -> tuple[str, np.ndarray]:
    """(name, image): the classical answer to ``degradation`` for the degraded ``x``."""
    from skimage.restoration import wiener

    from sweeps.champion_check import imresize, to_uint8
    from trainables.qair_denoise.data import classical_denoise

    if degradation.scale > 1:
        return "bicubic", to_uint8(imresize(x[None].astype(np.float32) / 255.0, float(degradation.scale))[0])
    if degradation.noise_sigma == 0 and degradation.blur_sigma == 0:
        return "input (nothing to undo)", x
    name, out = [], x
    if degradation.noise_sigma > 0:
        name.append("NLM")
        out = classical_denoise("nlm", out, degradation.noise_sigma)
    if degradation.blur_sigma > 0:
        name.append("Wiener")
        psf = _gaussian_psf(degradation.blur_sigma)
        pad = psf.shape[0]  # Wiener assumes a periodic image: reflect-pad, or the borders ring
        f = np.pad(out.astype(np.float64) / 255.0, ((pad, pad), (pad, pad), (0, 0)), mode="reflect")
        # balance (the noise-to-signal ratio assumed) ≈ 0.01·σ: the lowest error at blur σ 1, 1.5
        # and 3 on two photos of {0.003, 0.01, 0.03}; more after NLM, which leaves some noise
        balance = 0.01 * max(1.0, degradation.blur_sigma) + (0.04 if degradation.noise_sigma > 0 else 0.0)
        out = to_uint8(np.stack([wiener(f[..., c], psf, balance) for c in range(3)], axis=-1)[pad:-pad, pad:-pad])
    return " + ".join(name), out


def _gaussian_psf(sigma: float) -> np.ndarray:
    from trainables.data.degradations import blur_kernel_size

    k = cv2.getGaussianKernel(blur_kernel_size(sigma), sigma)
    return k @ k.T


def image_scores(image: np.ndarray, reference: np.ndarray | None) -> dict[str, float]:
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    if reference is None or image.shape != reference.shape:
        return {}
    return {"PSNR (dB)": round(float(peak_signal_noise_ratio(reference, image, data_range=255)), 2),
            "SSIM": round(float(structural_similarity(reference, image, channel_axis=-1, data_range=255)), 4)}


@dataclass
class Loaded:
    """A registered model version, loaded: its pyfunc, declaration and where it came from."""

    name: str
    version: str
    pyfunc: object
    io: object  # trainables.model_io.ModelIO
    scheme: str
    config: dict
    source_run_id: str | None

    def predict(self, x: np.ndarray, scale: int | None = None) -> np.ndarray:
        multi = getattr(self.io, "multi_scale", False)
        return self.pyfunc.predict(x[None], params={"scale": scale} if multi and scale else None)[0]


class Catalog:
    """Registered models of one tracking server, loaded on demand and kept (thread-safe)."""

    def __init__(self, tracking_uri: str, ui_url: str | None = None):
        from mlflow import MlflowClient

        self.tracking_uri, self.ui_url = tracking_uri, (ui_url or "").rstrip("/") or None
        self.client = MlflowClient(tracking_uri, registry_uri=tracking_uri)
        self._cache: OrderedDict[tuple[str, str], Loaded] = OrderedDict()
        self._lock = threading.Lock()
        self._downloads = tempfile.TemporaryDirectory(prefix="tasksweep-ui-")  # removed with the catalog

    def models(self) -> list[dict]:
        """Every tasksweep-registered model, newest version first, with its aliases and links."""
        import json

        out = []
        for model in self.client.search_registered_models(max_results=1000):
            aliases = {}
            for alias, version in (model.aliases or {}).items():
                aliases.setdefault(str(version), []).append(alias)
            versions = []
            for v in self.client.search_model_versions(f"name = '{model.name}'", max_results=1000):
                if IO_TAG not in v.tags:
                    continue  # not registered by tasksweep promote: no declaration to follow
                source = v.tags.get(SOURCE_TAG) or v.run_id
                versions.append({"version": str(v.version), "aliases": aliases.get(str(v.version), []),
                                 "io": json.loads(v.tags[IO_TAG]), "run_id": source,
                                 "heldout": {v.tags.get("tasksweep.heldout_metric"): v.tags.get("tasksweep.heldout_value")},
                                 "links": self.links(model.name, str(v.version), source)})
            if versions:
                versions.sort(key=lambda v: -int(v["version"]))
                out.append({"name": model.name, "versions": versions})
        return sorted(out, key=lambda m: m["name"])

    def links(self, name: str, version: str, run_id: str | None) -> dict[str, str]:
        from sweeps.mlflow_layout import model_version_url, run_url

        if not self.ui_url:
            return {}
        links = {"model_version": model_version_url(self.ui_url, name, version)}
        if run_id:
            try:
                links["run"] = run_url(self.ui_url, self.client.get_run(run_id).info.experiment_id, run_id)
            except Exception:  # the run was deleted: the version still works
                pass
        return links

    def resolve(self, name: str, version: str) -> str:
        """A version number, or an alias → the version number; unknown ones are a ``UserInputError``."""
        from mlflow.exceptions import MlflowException

        try:
            if version.isdigit():
                return str(self.client.get_model_version(name, version).version)
            return str(self.client.get_model_version_by_alias(name, version).version)
        except MlflowException:
            raise UserInputError(f"no registered model '{name}' with version or alias '{version}'") from None

    def load(self, name: str, version: str) -> Loaded:
        number = self.resolve(name, version)
        with self._lock:
            key = (name, number)
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
            loaded = self._load(name, number)
            self._cache[key] = loaded
            while len(self._cache) > MODELS_CACHED:
                self._cache.popitem(last=False)
            return loaded

    def _load(self, name: str, number: str) -> Loaded:
        import json

        import mlflow

        from sweeps.mlflow_layout import tracking_uri_set
        from sweeps.pyfunc_spec import io_of

        v = self.client.get_model_version(name, number)
        if IO_TAG not in v.tags:
            raise UserInputError(f"model '{name}' version {number} was not registered by tasksweep promote")
        with tracking_uri_set(self.tracking_uri):  # models:/ URIs resolve through the global registry URI
            local = Path(mlflow.artifacts.download_artifacts(f"models:/{name}/{number}",
                                                             dst_path=tempfile.mkdtemp(dir=self._downloads.name)))
        pyfunc = mlflow.pyfunc.load_model(str(local))
        saved = json.loads((local / "artifacts" / "config.json").read_text())
        return Loaded(name, number, pyfunc, io_of(pyfunc.metadata.metadata), saved["scheme"], saved["config"],
                      v.tags.get(SOURCE_TAG) or v.run_id)


def try_model(loaded: Loaded, image: np.ndarray, degradation: Degradation, degrade: bool,
              judge: Loaded | None = None) -> dict:
    """Run ``loaded`` on ``image`` (degraded here first when ``degrade``): panels of images and scores.

    Returns ``{"panels": [{"title", "image" (PNG data URL), "scores"}, ...], "model": {"name", "version", "scheme"}}``.
    """
    io = loaded.io
    if io.takes != "images":
        raise UserInputError(f"'{loaded.name}' takes {io.takes} from {getattr(io, 'extractor', 'an extractor')}, "
                             "not images: it cannot be tried on an upload")
    scale = degradation.scale if io.returns == "images" else 1
    if io.returns == "images" and scale not in io.scales:
        raise UserInputError(f"'{loaded.name}' serves scale {', '.join(map(str, io.scales))}, not {scale}")
    reference = degradation.reference(image) if degrade else None
    x = degradation.apply(image) if degrade else image
    if min(x.shape[:2]) < 8:
        raise UserInputError(f"the input is {x.shape[1]}×{x.shape[0]} pixels after degradation: too small")
    panels = [{"title": "reference (your upload)", "image": reference}] if reference is not None else []
    panels.append({"title": "input" + (" (degraded here)" if degrade else ""), "image": x})
    if io.returns == "images":
        panels.append({"title": f"{loaded.name} v{loaded.version}", "image": loaded.predict(x, scale)})
        name, base = baseline(x, degradation)
        panels.append({"title": f"baseline: {name}", "image": base})
        for p in panels:
            p["scores"] = image_scores(p["image"], reference) if p["image"] is not reference else {}
    elif io.kind == "descriptors":  # a query-side extractor: how far the degradation moves the descriptor
        vectors = [loaded.predict(p["image"]) for p in panels]
        for p, v in zip(panels, vectors):
            p["scores"] = {"descriptor cosine to the first panel's": round(float(v @ vectors[0]), 4)}
    else:
        for p in panels:
            p["scores"] = _class_or_score(loaded, p["image"])
    if judge is not None:
        _judge(judge, panels)
    return {"panels": [{**p, "image": png_data_url(p["image"])} for p in panels],
            "model": {"name": loaded.name, "version": loaded.version, "scheme": loaded.scheme}}


def _class_or_score(loaded: Loaded, image: np.ndarray) -> dict:
    """Top-5 classes of a classifier, or the mean score of a judge, for one image."""
    probs = loaded.predict(image)
    io = loaded.io
    if io.kind == "class_scores":
        top = np.argsort(-probs)[:5]
        return {f"top{i + 1}: {io.classes[k]}": round(float(probs[k]), 4) for i, k in enumerate(top)}
    return {"mean score": round(float(probs @ np.asarray(io.scores)), 3)}


def _judge(judge: Loaded, panels: list[dict]) -> None:
    if judge.io.kind != "score_distribution":
        raise UserInputError(f"'{judge.name}' is not a judge (it returns {judge.io.kind}, not a score distribution)")
    for p in panels:
        dist = judge.predict(p["image"])
        p["scores"] = {**p["scores"], f"{judge.name} score": round(float(dist @ np.asarray(judge.io.scores)), 3)}
