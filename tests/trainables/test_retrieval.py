import numpy as np
import pytest
import torch
from torch import nn

from trainables.data import embedded_landmarks
from trainables.data.embedded_landmarks import LandmarksSpec
from trainables.errors import UserInputError
from trainables.retrieval import CnnBackend, SiftBackend, build_backend, evaluate, index_database
from trainables.retrieval.benchmark import noisy_queries
from trainables.models.pooling import gem, mac

SMALL = LandmarksSpec(db_views_per_landmark=4, queries_per_landmark=1, views_per_distractor=1, view_hw=(120, 160))


@pytest.fixture(scope="module")
def small_set():
    return embedded_landmarks.load(SMALL)


def test_sift_ranks_the_source_view_first():
    import skimage.data

    photos = [skimage.data.astronaut(), skimage.data.coffee(), skimage.data.rocket()]
    backend = SiftBackend()
    backend.set_database(backend.describe_database(photos))
    query = photos[1][60:300, 100:420]  # a crop of the coffee photo
    scores = backend.scores(query)
    assert scores.argmax() == 1
    assert scores[1] >= 20 and scores[[0, 2]].max() < 10  # inliers, not just matches


def test_sift_map_on_small_set_beats_chance_and_drops_with_noise(small_set):
    backend = SiftBackend()
    index_database(backend, small_set)
    clean = evaluate(backend, small_set)
    noisy = evaluate(backend, small_set, noisy_queries(small_set, sigma=80))
    assert clean["mAP_M"] > 0.6
    assert noisy["mAP_M"] < clean["mAP_M"]


def test_database_features_are_cached(small_set, isolated_cache):
    backend = SiftBackend()
    index_database(backend, small_set)
    files = list((isolated_cache / "descriptors").glob("*.pkl"))
    assert files
    stamp = {f: f.stat().st_mtime_ns for f in files}
    index_database(SiftBackend(), small_set)
    assert {f: f.stat().st_mtime_ns for f in files} == stamp


def test_gem_interpolates_between_mean_and_max():
    x = torch.rand(2, 5, 4, 4) + 0.1
    assert torch.allclose(gem(x, p=1.0), x.mean(dim=(2, 3)), atol=1e-6)
    assert torch.allclose(gem(x, p=60.0), mac(x), rtol=0.05)
    assert torch.all(gem(x, 3.0) <= mac(x) + 1e-6)


def test_cnn_backend_finds_identical_image():
    torch.manual_seed(0)
    trunk = nn.Sequential(nn.Conv2d(3, 16, 5, stride=2), nn.ReLU(), nn.Conv2d(16, 32, 3, stride=2), nn.ReLU())
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, size=(64, 80, 3), dtype=np.uint8) for _ in range(5)]
    backend = CnnBackend(trunk, pooling="mac")
    backend.set_database(backend.describe_database(images))
    scores = backend.scores(images[3])
    assert scores.argmax() == 3 and scores[3] == pytest.approx(1.0, abs=1e-5)
    assert np.linalg.norm(backend.describe(images[0])) == pytest.approx(1.0, abs=1e-5)


def test_unknown_backend_is_a_user_error():
    with pytest.raises(UserInputError, match="unknown retrieval backend 'surf'"):
        build_backend("surf")
