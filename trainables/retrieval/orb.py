"""ORB + Lowe ratio test + RANSAC: seed 000's second local feature (§6.5, Table 6).

The paper's second feature is SURF, which is patented and absent from opencv-python-headless;
in OpenCV 5 AKAZE and KAZE moved to the contrib modules too. ORB (Rublee et al. 2011: oriented
FAST keypoints over an 8-level pyramid, rotated BRIEF descriptors of 32 bytes, matched by Hamming
distance) is in the main modules. Everything after description is ``SiftBackend``'s pipeline
with its settings (``SiftConfig``): the ``n_features`` strongest keypoints, the ratio test,
RANSAC inliers as the score. Descriptors are stored packed (uint8) and unpacked to 0/1 float
rows for matching, where a squared L2 distance *is* the Hamming distance, an integer exact in
float32; the ratio test then compares Hamming distances, as
``cv2.BFMatcher(NORM_HAMMING).knnMatch(k=2)`` does.
"""

from __future__ import annotations

import cv2
import numpy as np

from trainables.retrieval.sift import Features, SiftBackend


class OrbBackend(SiftBackend):
    """Ranks database images for a query by RANSAC inlier count of ORB matches."""

    name = "orb"
    hamming = True

    def as_float(self, desc: np.ndarray) -> np.ndarray:
        return np.unpackbits(np.asarray(desc, np.uint8), axis=1).astype(np.float32)

    def describe(self, image_rgb: np.ndarray) -> Features:
        """Keypoints and packed uint8 descriptors (K, 32) of one RGB uint8 image."""
        gray = self.grey(image_rgb)
        if not hasattr(self._local, "orb"):
            self._local.orb = cv2.ORB_create(nfeatures=self.config.n_features)
        keypoints, desc = self._local.orb.detectAndCompute(gray, None)
        if desc is None:
            return np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8)
        return np.array([kp.pt for kp in keypoints], np.float32), desc
