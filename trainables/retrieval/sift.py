"""SIFT + Lowe ratio test + RANSAC geometric verification (seed 000's main retrieval system).

The score of a database image is its number of RANSAC inliers with the query, so a ranking
reflects geometrically consistent matches, not just descriptor similarity.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class SiftConfig:
    n_features: int = 300  # keypoints kept per image (strongest first)
    max_side: int = 512  # images are shrunk to this longest side before SIFT, for speed
    ratio: float = 0.8  # Lowe's ratio test threshold
    ransac_reproj_px: float = 6.0  # RANSAC reprojection threshold for the homography
    min_matches: int = 6  # fewer ratio-test matches than this: no RANSAC, score = matches/1000


Features = tuple[np.ndarray, np.ndarray]  # (K, 2) keypoint xy, (K, 128) float32 descriptors


class SiftBackend:
    """Ranks database images for a query by RANSAC inlier count."""

    name = "sift"

    def __init__(self, config: SiftConfig | None = None):
        self.config = config or SiftConfig()
        self._sift = cv2.SIFT_create(nfeatures=self.config.n_features)
        self._matcher = cv2.BFMatcher(cv2.NORM_L2)
        self._db: list[Features] = []

    def cache_key(self) -> dict:
        return {"backend": self.name, **asdict(self.config)}

    def describe(self, image_rgb: np.ndarray) -> Features:
        """Keypoints and descriptors of one RGB uint8 image."""
        gray = cv2.cvtColor(image_rgb, cv2.COLOR_RGB2GRAY) if image_rgb.ndim == 3 else image_rgb
        scale = self.config.max_side / max(gray.shape)
        if scale < 1:
            gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        keypoints, desc = self._sift.detectAndCompute(gray, None)
        if desc is None:
            return np.zeros((0, 2), np.float32), np.zeros((0, 128), np.float32)
        xy = np.array([kp.pt for kp in keypoints], np.float32)
        return xy, desc.astype(np.float32)

    def set_database(self, features: list[Features]) -> None:
        self._db = features

    def describe_database(self, images) -> list[Features]:
        return [self.describe(img) for img in images]

    def score(self, query: Features, item: Features) -> float:
        """RANSAC inliers; below ``min_matches`` the match count / 1000 breaks ties among losers."""
        (qxy, qdesc), (dxy, ddesc) = query, item
        if len(qdesc) < 2 or len(ddesc) < 2:
            return 0.0
        pairs = self._matcher.knnMatch(qdesc, ddesc, k=2)
        good = [m for m, n in (p for p in pairs if len(p) == 2) if m.distance < self.config.ratio * n.distance]
        if len(good) < self.config.min_matches:
            return len(good) / 1000.0
        src = qxy[[m.queryIdx for m in good]]
        dst = dxy[[m.trainIdx for m in good]]
        _, mask = cv2.findHomography(src, dst, cv2.RANSAC, self.config.ransac_reproj_px)
        return float(mask.sum()) if mask is not None else 0.0

    def scores(self, query_image: np.ndarray) -> np.ndarray:
        """Similarity of one query image to every database image, shape (n_db,)."""
        query = self.describe(query_image)
        return np.array([self.score(query, item) for item in self._db], np.float64)
