"""SIFT + Lowe ratio test + RANSAC geometric verification (seed 000's main retrieval system).

The score of a database image is its number of RANSAC inliers with the query, so a ranking
reflects geometrically consistent matches, not just descriptor similarity.

Matching is vectorised: the database descriptors are packed once into a padded matrix, and a
query's squared L2 distances to every database keypoint come from one matrix product per chunk
of database images; the two nearest neighbours per query keypoint and database image then give
Lowe's ratio test. This computes what ``cv2.BFMatcher(NORM_L2).knnMatch(k=2)`` + the ratio test
compute: OpenCV's SIFT descriptors hold whole numbers (at most 255, norm about 512), so every dot
product, norm and squared distance is an integer well below 2**24 and exact in float32, and the
distances compared are the float32 square roots that OpenCV compares. Only images with at least
``min_matches`` good matches go through ``cv2.findHomography`` (RANSAC, deterministic), run on
``torch.get_num_threads()`` threads (OpenCV releases the GIL).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass

import cv2
import numpy as np
import torch

from trainables.threads import thread_map


@dataclass(frozen=True)
class SiftConfig:
    n_features: int = 300  # keypoints kept per image (strongest first)
    max_side: int = 512  # images are shrunk to this longest side before SIFT, for speed
    ratio: float = 0.8  # Lowe's ratio test threshold
    ransac_reproj_px: float = 6.0  # RANSAC reprojection threshold for the homography
    min_matches: int = 6  # fewer ratio-test matches than this: no RANSAC, score = matches/1000


Features = tuple[np.ndarray, np.ndarray]  # (K, 2) keypoint xy, (K, D) descriptors (SIFT: D = 128, float32)

# Largest distance block (query keypoints x database keypoints of one chunk) held at once.
_BLOCK_ELEMENTS = 1 << 24  # 64 MiB of float32


@dataclass
class _Packed:
    """Database descriptors with at least two keypoints, padded to a common count."""

    items: np.ndarray  # (n,) indices into the database of the packed images
    desc: torch.Tensor  # (n * k, D) float32, image r's descriptors in rows r*k .. r*k+count-1
    sqnorm: torch.Tensor  # (n * k,) float32 squared norms, +inf on padding rows
    k: int  # padded keypoint count per image

    @classmethod
    def build(cls, descriptors: list[np.ndarray], as_float: Callable[[np.ndarray], np.ndarray]) -> _Packed:
        counts = np.array([len(d) for d in descriptors], np.int64)
        items = np.flatnonzero(counts >= 2)  # fewer than two descriptors: no ratio test, score 0
        k = int(counts[items].max()) if len(items) else 0
        width = as_float(descriptors[items[0]]).shape[1] if len(items) else 1
        desc = np.zeros((len(items), k, width), np.float32)
        sqnorm = np.full((len(items), k), np.inf, np.float32)
        for row, i in enumerate(items):
            d = as_float(descriptors[i])
            desc[row, : len(d)] = d
            sqnorm[row, : len(d)] = np.einsum("ij,ij->i", d, d)
        return cls(items, torch.from_numpy(desc.reshape(-1, width)), torch.from_numpy(sqnorm.reshape(-1)), k)


class SiftBackend:
    """Ranks database images for a query by RANSAC inlier count."""

    name = "sift"
    # Lowe's ratio compares L2 distances; a binary descriptor's backend (akaze.py) compares
    # Hamming distances, which are its float bit vectors' squared L2 distances (no square root)
    hamming = False

    def __init__(self, config: SiftConfig | None = None):
        self.config = config or SiftConfig()
        self._local = threading.local()  # one OpenCV detector per thread: stage builds describe in threads
        self._xy: list[np.ndarray] = []
        self._packed = _Packed.build([], self.as_float)

    def as_float(self, desc: np.ndarray) -> np.ndarray:
        """Descriptors as the float32 rows the matcher multiplies."""
        return np.asarray(desc, np.float32)

    def cache_key(self) -> dict:
        return {"backend": self.name, **asdict(self.config)}

    def grey(self, image_rgb: np.ndarray) -> np.ndarray:
        """The image a detector sees: grey, shrunk to ``max_side`` at most."""
        gray = cv2.cvtColor(image_rgb, cv2.COLOR_RGB2GRAY) if image_rgb.ndim == 3 else image_rgb
        scale = self.config.max_side / max(gray.shape)
        if scale < 1:
            gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        return gray

    def describe(self, image_rgb: np.ndarray) -> Features:
        """Keypoints and descriptors of one RGB uint8 image."""
        gray = self.grey(image_rgb)
        if not hasattr(self._local, "sift"):
            self._local.sift = cv2.SIFT_create(nfeatures=self.config.n_features)
        keypoints, desc = self._local.sift.detectAndCompute(gray, None)
        if desc is None:
            return np.zeros((0, 2), np.float32), np.zeros((0, 128), np.float32)
        xy = np.array([kp.pt for kp in keypoints], np.float32)
        return xy, desc.astype(np.float32)

    def set_database(self, features: list[Features]) -> None:
        features = list(features)
        self._xy = [np.asarray(xy, np.float32) for xy, _ in features]
        self._packed = _Packed.build([desc for _, desc in features], self.as_float)

    def describe_database(self, images) -> list[Features]:
        return [self.describe(img) for img in images]

    def score(self, query: Features, item: Features) -> float:
        """RANSAC inliers; below ``min_matches`` the match count / 1000 breaks ties among losers."""
        return float(self._scores(query, [np.asarray(item[0], np.float32)], _Packed.build([item[1]], self.as_float))[0])

    def scores(self, query_image: np.ndarray, positives=None, junk=()) -> np.ndarray:
        """Similarity of one query image to every database image, shape (n_db,).

        With ``positives`` (and ``junk``) given, only the scores an AP over them depends on are
        exact: a database image that provably ranks below every positive, or is junk, scores −1
        and skips RANSAC. Any AP of these scores equals the AP of the full ones.
        """
        return self._scores(self.describe(query_image), self._xy, self._packed, positives, junk)

    # -- matching ---------------------------------------------------------------------------

    def _scores(self, query: Features, db_xy: list[np.ndarray], packed: _Packed, positives=None, junk=()) -> np.ndarray:
        out = np.zeros(len(db_xy), np.float64)
        qxy, qdesc = query
        if len(qdesc) < 2 or len(packed.items) == 0:
            return out
        qxy = np.asarray(qxy, np.float32)
        verify = []  # (database index, query keypoint indices, database keypoint indices)
        for item, qi, ti in self._ratio_matches(self.as_float(qdesc), packed):
            if len(qi) < self.config.min_matches:
                out[item] = len(qi) / 1000.0
            else:
                verify.append((item, qi, ti))
        if positives is None:
            self._verify(qxy, db_xy, verify, out)
            return out
        # Positives first. RANSAC's inliers are a subset of the ratio-test matches, so an image
        # with fewer matches than the lowest positive's score stays below every positive
        # whatever RANSAC finds: its exact score cannot change the AP. Junk never does.
        positives, junk = set(positives), set(junk)
        self._verify(qxy, db_xy, [job for job in verify if job[0] in positives], out)
        floor = min((out[p] for p in positives), default=np.inf)
        rest = [job for job in verify if job[0] not in positives]
        self._verify(qxy, db_xy, [job for job in rest if job[0] not in junk and len(job[1]) >= floor], out)
        for item, qi, _ in rest:
            if item in junk or len(qi) < floor:
                out[item] = -1.0
        return out

    def _verify(self, qxy: np.ndarray, db_xy: list[np.ndarray], jobs: list, out: np.ndarray) -> None:
        """``out[item]`` = RANSAC inliers of each (item, query idx, db idx) job, on torch's thread count."""
        def inliers(job) -> float:
            item, qi, ti = job
            _, mask = cv2.findHomography(qxy[qi], db_xy[item][ti], cv2.RANSAC, self.config.ransac_reproj_px)
            return float(mask.sum()) if mask is not None else 0.0

        found = thread_map(inliers, jobs, workers=min(torch.get_num_threads(), len(jobs)) or 1)
        for (item, _, _), n in zip(jobs, found):
            out[item] = n

    def _ratio_matches(self, qdesc: np.ndarray, packed: _Packed):
        """Yield (database index, query idx, db keypoint idx) of the ratio-test matches, query order.

        Equals ``BFMatcher(NORM_L2).knnMatch(q, d, k=2)`` kept where ``m.distance < ratio *
        n.distance`` (distances: float32 square roots, compared in double as Python does).
        """
        q = torch.from_numpy(qdesc)
        qn = (q * q).sum(1)  # exact for whole-number descriptors
        k = packed.k
        chunk = max(1, _BLOCK_ELEMENTS // (len(qdesc) * k))
        n = len(packed.items)
        with torch.no_grad():
            for start in range(0, n, chunk):
                stop = min(n, start + chunk)
                rows = slice(start * k, stop * k)
                # ||d||^2 - 2 q.d per (query keypoint, db keypoint); +inf on padding. ||q||^2 is the
                # same along a row, so it is added only to the two nearest.
                part = torch.addmm(packed.sqnorm[rows].unsqueeze(0), q, packed.desc[rows].T, alpha=-2.0)
                part = part.view(len(qdesc), stop - start, k)
                first, nearest = part.min(dim=2)  # nearest neighbour (a tie is never a good match)
                part.scatter_(2, nearest.unsqueeze(2), float("inf"))
                second = part.amin(dim=2)  # second nearest: equals ``first`` on a tie
                d1, d2 = ((x + qn[:, None]).clamp_(min=0) for x in (first, second))
                if not self.hamming:
                    d1, d2 = d1.sqrt_(), d2.sqrt_()  # float32 square roots, as OpenCV's
                d1, d2 = d1.double(), d2.double()
                good = (d1 < self.config.ratio * d2).T.numpy()  # (images, query keypoints)
                nearest = nearest.T.numpy()
                for r in range(stop - start):
                    qi = np.flatnonzero(good[r])
                    yield int(packed.items[start + r]), qi, nearest[r, qi]
