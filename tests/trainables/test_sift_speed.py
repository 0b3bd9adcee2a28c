"""The vectorised SIFT matcher computes what the per-pair ``cv2.BFMatcher`` loop computed."""

import cv2
import numpy as np
import pytest
import skimage.data
import torch

from trainables.retrieval import sift
from trainables.retrieval.sift import SiftBackend, SiftConfig


def reference_score(config: SiftConfig, query, item, norm: int = cv2.NORM_L2) -> float:
    """The original algorithm: BFMatcher knnMatch(k=2), Lowe's ratio test, RANSAC inliers."""
    (qxy, qdesc), (dxy, ddesc) = query, item
    if len(qdesc) < 2 or len(ddesc) < 2:
        return 0.0
    pairs = cv2.BFMatcher(norm).knnMatch(qdesc, ddesc, k=2)
    good = [m for m, n in (p for p in pairs if len(p) == 2) if m.distance < config.ratio * n.distance]
    if len(good) < config.min_matches:
        return len(good) / 1000.0
    src = qxy[[m.queryIdx for m in good]]
    dst = dxy[[m.trainIdx for m in good]]
    _, mask = cv2.findHomography(src, dst, cv2.RANSAC, config.ransac_reproj_px)
    return float(mask.sum()) if mask is not None else 0.0


def rotate(image, degrees, scale=1.0):
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, scale)
    return cv2.warpAffine(image, m, (w, h), borderMode=cv2.BORDER_REFLECT)


@pytest.fixture(scope="module")
def photos():
    d = skimage.data
    return {
        "astronaut": d.astronaut(),
        "coffee": d.coffee(),
        "rocket": d.rocket(),
        "chelsea": d.chelsea(),
        "camera": d.camera(),  # grayscale
        "ihc": d.immunohistochemistry(),
        "hubble": d.hubble_deep_field(),
        "brick": d.brick(),  # repetitive texture: many ambiguous neighbours for the ratio test
        "gravel": d.gravel(),
        "colorwheel": d.colorwheel(),
    }


@pytest.fixture(scope="module")
def database(photos):
    p = photos
    return [
        p["astronaut"],
        p["coffee"],
        p["rocket"],
        p["chelsea"],
        p["camera"],
        p["ihc"],
        p["hubble"],
        p["brick"],
        p["gravel"],
        p["colorwheel"],
        rotate(p["astronaut"], 30),
        np.rot90(p["coffee"]).copy(),
        rotate(p["rocket"], -15, 0.8),
        p["chelsea"][40:260, 60:400],
        rotate(p["camera"], 45, 1.2),
        p["hubble"][100:600, 200:800],
        np.zeros((64, 64, 3), np.uint8),  # no keypoints at all
    ]


@pytest.fixture(scope="module")
def queries(photos):
    p = photos
    return [
        p["coffee"][60:300, 100:420],
        np.rot90(p["astronaut"][50:450, 80:400], 3).copy(),
        rotate(p["rocket"], 20),
        cv2.resize(p["chelsea"], None, fx=0.7, fy=0.7, interpolation=cv2.INTER_AREA),
        p["camera"][100:400, 50:450],
        rotate(p["ihc"][:300, :300], 10, 1.1),
        p["brick"][100:400, 100:400],
        rotate(p["hubble"][200:700, 300:900], -25),
        p["gravel"][::2, ::2].copy(),
    ]


def compare(backend, db_features, queries):
    """(new scores, reference scores), each (n_queries, n_db)."""
    new, ref = [], []
    for image in queries:
        q = backend.describe(image)
        new.append(backend.scores(image))
        ref.append([reference_score(backend.config, q, item) for item in db_features])
    return np.array(new), np.array(ref)


def assert_same_scores(new, ref, max_differences=2):
    assert new.shape == ref.shape
    differing = int((new != ref).sum())
    # Differences could only come from float near-ties in the ratio test; none are expected for
    # OpenCV's whole-number SIFT descriptors.
    assert differing <= max_differences, f"{differing} scores differ:\n{new}\n{ref}"
    for row_new, row_ref in zip(new, ref):
        np.testing.assert_array_equal(np.argsort(-row_new, kind="stable"), np.argsort(-row_ref, kind="stable"))


@pytest.fixture(scope="module")
def indexed(database):
    backend = SiftBackend()
    features = backend.describe_database(database)
    one = features[3]
    features.append((one[0][:1].copy(), one[1][:1].copy()))  # a single descriptor: no ratio test possible
    features.append((one[0][:2].copy(), one[1][:2].copy()))  # exactly two
    backend.set_database(features)
    return backend, features


def test_scores_equal_the_bfmatcher_loop(indexed, queries):
    backend, features = indexed
    assert len(features[16][1]) == 0 and len(features[-2][1]) == 1
    new, ref = compare(backend, features, queries)
    assert_same_scores(new, ref)
    assert np.all(new[:, [16, len(features) - 2]] == 0)
    assert (new >= backend.config.min_matches).sum() >= len(queries)  # RANSAC ran, not only match counts
    assert ((new > 0) & (new < 1)).any()  # and some pairs scored by their match count


def test_scores_do_not_depend_on_chunking_or_threads(indexed, queries, monkeypatch):
    backend, _ = indexed
    expected = np.array([backend.scores(q) for q in queries[:4]])
    monkeypatch.setattr(sift, "_BLOCK_ELEMENTS", 300 * 300 * 3)  # three database images per block
    chunked = np.array([backend.scores(q) for q in queries[:4]])
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        serial = np.array([backend.scores(q) for q in queries[:4]])
    finally:
        torch.set_num_threads(threads)
    np.testing.assert_array_equal(chunked, expected)
    np.testing.assert_array_equal(serial, expected)


def test_score_of_one_item_matches_the_reference(indexed, queries):
    backend, features = indexed
    for image in queries[:5]:
        q = backend.describe(image)
        for item in features:
            assert backend.score(q, item) == reference_score(backend.config, q, item)


def test_query_without_descriptors_scores_zero(indexed):
    backend, features = indexed
    blank = np.full((80, 80, 3), 127, np.uint8)
    assert len(backend.describe(blank)[1]) == 0
    scores = backend.scores(blank)
    assert scores.shape == (len(features),) and np.all(scores == 0)
    single = (features[0][0][:1], features[0][1][:1])
    assert backend.score(single, features[0]) == 0.0


def test_empty_database_and_other_settings(queries):
    backend = SiftBackend(SiftConfig(n_features=120, ratio=0.7, min_matches=8, ransac_reproj_px=4.0))
    assert backend.scores(queries[0]).shape == (0,)
    db = [skimage.data.coffee(), skimage.data.astronaut(), np.zeros((32, 32), np.uint8)]
    features = backend.describe_database(db)
    backend.set_database(features)
    new, ref = compare(backend, features, queries[:3])
    assert_same_scores(new, ref)
    assert new[0].argmax() == 0 and new[1].argmax() == 1


def test_scores_for_an_ap_give_the_full_ap_and_skip_ransac(indexed, queries):
    """Pruned scores (images that cannot pass any positive skip RANSAC) give the same AP."""
    from trainables.metrics import average_precision, ranks_from_scores

    backend, features = indexed
    rng = np.random.default_rng(0)
    skipped = 0
    for image in queries:
        full = backend.scores(image)
        for _ in range(6):
            picked = rng.permutation(len(features))
            positives, junk = picked[:rng.integers(1, 5)].tolist(), picked[5:7].tolist()
            pruned = backend.scores(image, positives, junk)
            ap = lambda s: average_precision(ranks_from_scores(s[None])[:, 0], positives, junk)  # noqa: E731
            assert ap(pruned) == ap(full)
            exact = [i for i in range(len(full)) if pruned[i] != -1]
            np.testing.assert_array_equal(pruned[exact], full[exact])
            assert set(positives) <= set(exact)
            skipped += int(((pruned == -1) & (full >= backend.config.min_matches)).sum())
    assert skipped > 0  # some RANSAC runs were saved
