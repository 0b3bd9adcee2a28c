"""ORB through the vectorised matcher computes what ``cv2.BFMatcher(NORM_HAMMING)`` computes."""

import cv2
import numpy as np
import pytest

from tests.trainables.test_sift_speed import assert_same_scores, database, photos, queries  # noqa: F401 (fixtures)
from trainables.retrieval import build_backend
from trainables.retrieval.orb import OrbBackend


def reference_score(config, query, item) -> float:
    """Per pair: BFMatcher(NORM_HAMMING) knnMatch(k=2) on packed descriptors, ratio test, RANSAC."""
    (qxy, qdesc), (dxy, ddesc) = query, item
    if len(qdesc) < 2 or len(ddesc) < 2:
        return 0.0
    pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(qdesc, ddesc, k=2)
    good = [m for m, n in (p for p in pairs if len(p) == 2) if m.distance < config.ratio * n.distance]
    if len(good) < config.min_matches:
        return len(good) / 1000.0
    _, mask = cv2.findHomography(qxy[[m.queryIdx for m in good]], dxy[[m.trainIdx for m in good]], cv2.RANSAC,
                                 config.ransac_reproj_px)
    return float(mask.sum()) if mask is not None else 0.0


@pytest.fixture(scope="module")
def indexed(database):  # noqa: F811
    backend = build_backend("orb")
    features = backend.describe_database(database)
    backend.set_database(features)
    return backend, features


def test_descriptors_are_packed_bits_and_hamming_is_their_squared_distance(photos):  # noqa: F811
    backend = OrbBackend()
    _, desc = backend.describe(photos["astronaut"])
    assert desc.dtype == np.uint8 and desc.shape == (300, 32)
    bits = backend.as_float(desc[:2])
    assert bits.shape == (2, 256) and ((bits[0] - bits[1]) ** 2).sum() == cv2.norm(desc[0], desc[1], cv2.NORM_HAMMING)


def test_scores_equal_the_hamming_bfmatcher_loop(indexed, queries):  # noqa: F811
    backend, features = indexed
    new = np.array([backend.scores(q) for q in queries])
    ref = np.array([[reference_score(backend.config, backend.describe(q), item) for item in features] for q in queries])
    assert_same_scores(new, ref, max_differences=0)  # Hamming distances are integers: no near-ties
    assert (new >= backend.config.min_matches).sum() >= len(queries) // 2  # RANSAC ran on many pairs
    # each query's source photo ranks first among the 17 database images
    assert [int(np.argmax(row)) for row in new[:3]] == [1, 0, 2]
