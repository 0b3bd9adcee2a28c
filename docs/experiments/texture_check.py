"""Does embedded-landmarks reward noisy queries because a database view shares the query's pixels?

Issue 14 asked: each embedded landmark is one photo, so a database view shares the query's exact
texture (sensor noise, JPEG blocks, fine detail), which noisy SIFT may still match and any
denoiser smooths away. This script re-synthesises every database view so that exact texture is
not shared (Gaussian blur σ 0.8, ×0.75 resampling and back, sensor noise σ 3, JPEG quality 80:
the same scene, other pixels) and measures SIFT mAP (revisitop Medium, all 72 queries) of clean,
σ = 50 noisy, NN (the qair_denoise preset's pretrained DnCNN; built if not cached, ~11 min on 2
cores) and NLM queries against both databases.

    python docs/experiments/texture_check.py [--seed 0]

If shared texture were the cause, re-synthesis would close the gap between the noisy queries and
the denoised ones (or reverse it). Prints one JSON line per database.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import torch

from trainables.data.image_files import to_tensor, to_uint8
from trainables.metrics import revisitop_map
from trainables.qair_denoise import Config
from trainables.qair_denoise.data import classical_denoise, enhance, load_dataset, local_feature_backend, noisy
from trainables.qair_denoise.stages import PRETRAIN
from trainables.retrieval import rank


def resynthesised(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The same scene with none of its exact pixels: blur, resample, sensor noise, JPEG."""
    h, w = rgb.shape[:2]
    x = cv2.GaussianBlur(rgb, (0, 0), 0.8)
    x = cv2.resize(cv2.resize(x, (int(w * 0.75), int(h * 0.75)), interpolation=cv2.INTER_AREA), (w, h),
                   interpolation=cv2.INTER_CUBIC)
    x = np.clip(x + rng.normal(0, 3, x.shape), 0, 255).astype(np.uint8)
    ok, jpg = cv2.imencode(".jpg", cv2.cvtColor(x, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 80])
    return cv2.cvtColor(cv2.imdecode(jpg, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def main() -> None:
    parser = argparse.ArgumentParser(description="embedded-landmarks: shared texture or not")
    parser.add_argument("--seed", type=int, default=0)
    seed = parser.parse_args().seed
    config = Config(seed=seed)
    rset = load_dataset(config)
    gen = torch.Generator().manual_seed(seed)
    nn = PRETRAIN.get(config, device=torch.device("cpu"), progress=print)
    clean = [rset.load_query(i) for i in range(len(rset.qimlist))]
    noisy_q = [to_uint8(noisy(to_tensor(q)[None], config.sigma, gen)[0]) for q in clean]
    queries = {"clean": clean, "noisy": noisy_q, "nn": [enhance(nn, q) for q in noisy_q],
               "nlm": [classical_denoise("nlm", q, config.sigma) for q in noisy_q]}
    with tempfile.TemporaryDirectory() as tmp:
        rng = np.random.default_rng(seed)
        for i in range(len(rset.imlist)):
            cv2.imwrite(str(Path(tmp) / f"{rset.imlist[i]}{rset.ext}"),
                        cv2.cvtColor(resynthesised(rset.load_db(i), rng), cv2.COLOR_RGB2BGR))
        for i in range(len(rset.qimlist)):
            shutil.copy(rset.query_path(i), Path(tmp) / rset.query_path(i).name)
        for name, db in (("as built", rset), ("re-synthesised", replace(rset, image_dir=Path(tmp)))):
            backend = local_feature_backend(config, db)
            print(json.dumps({"database": name, **{k: round(revisitop_map(rank(backend, qs), rset.gnd)["mAP_M"], 4)
                                                   for k, qs in queries.items()}}), flush=True)


if __name__ == "__main__":
    main()
