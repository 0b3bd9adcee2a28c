"""ORB through the vectorised matcher computes what ``cv2.BFMatcher(NORM_HAMMING)`` computes."""

import cv2
import numpy as np
import pytest

from tests.trainables.test_sift_speed import (assert_same_scores, database, photos, queries,  # noqa: F401 (fixtures)
                                              reference_score)
from trainables.retrieval import build_backend
from trainables.retrieval.orb import OrbBackend


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
    ref = np.array([[reference_score(backend.config, backend.describe(q), item, cv2.NORM_HAMMING) for item in features]
                    for q in queries])
    assert_same_scores(new, ref, max_differences=0)  # Hamming distances are integers: no near-ties
    assert (new >= backend.config.min_matches).sum() >= len(queries) // 2  # RANSAC ran on many pairs
    # each query's source photo ranks first among the 17 database images
    assert [int(np.argmax(row)) for row in new[:3]] == [1, 0, 2]
