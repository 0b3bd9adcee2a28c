"""Real-dataset adapters, run on tiny fake roots written in each dataset's exact layout."""

from __future__ import annotations

import pickle
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from trainables.data.ava import mean_score
from trainables.data.classification import stratified_split
from trainables.data.real import REAL_DATASETS, load_real
from trainables.errors import UserInputError


def write_image(path: Path, h: int = 12, w: int = 16, seed: int = 0, grey: bool = False) -> np.ndarray:
    """Write a small random BGR (or grey) image; return what was written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    img = np.random.default_rng(seed).integers(0, 256, (h, w) if grey else (h, w, 3), dtype=np.uint8)
    assert cv2.imwrite(str(path), img)
    return img


def assert_image_tensor(x: torch.Tensor) -> None:
    assert x.dtype == torch.float32 and x.ndim == 3 and x.shape[0] == 3
    assert 0.0 <= x.min() and x.max() <= 1.0


# ---------------------------------------------------------------- registry


def test_unknown_name_lists_valid_names():
    with pytest.raises(UserInputError, match="valid names: .*caltech101.*roxford5k"):
        load_real("imagenet", "/nowhere")


def test_misspelt_option_is_a_user_error(tmp_path):
    with pytest.raises(UserInputError, match="patchsize"):
        load_real("div2k", tmp_path, patchsize=48)


@pytest.mark.parametrize("name", sorted(REAL_DATASETS))
def test_missing_root_names_the_missing_path_and_writes_nothing(tmp_path, name):
    root = tmp_path / "absent"
    with pytest.raises(UserInputError) as e:
        load_real(name, root)
    msg = str(e.value)
    assert str(root) in msg and "\n" not in msg
    assert not root.exists()  # read-only: no folder is created on the way


# ---------------------------------------------------------------- revisitop


def make_revisitop(root: Path, name: str = "roxford5k") -> dict:
    folder = root / name
    imlist = ["all_souls_000000", "all_souls_000001", "ashmolean_000000"]
    qimlist = ["all_souls_000013"]
    for i, stem in enumerate(imlist + qimlist):
        write_image(folder / "jpg" / f"{stem}.jpg", h=20, w=30, seed=i)
    gnd = [{"bbx": [2.0, 3.0, 12.0, 15.0], "easy": [0], "hard": [1], "junk": [2]}]
    cfg = {"imlist": imlist, "qimlist": qimlist, "gnd": gnd}
    with open(folder / f"gnd_{name}.pkl", "wb") as f:
        pickle.dump(cfg, f)
    return cfg


def test_revisitop_fake_root(tmp_path):
    cfg = make_revisitop(tmp_path)
    rset = load_real("roxford5k", tmp_path)
    assert rset.imlist == cfg["imlist"] and rset.qimlist == cfg["qimlist"] and rset.gnd == cfg["gnd"]
    assert rset.load_query(0).shape == (12, 10, 3)  # cropped to bbx
    assert rset.load_db(2).shape == (20, 30, 3)


def test_revisitop_missing_pkl_and_image(tmp_path):
    make_revisitop(tmp_path)
    (tmp_path / "roxford5k" / "jpg" / "all_souls_000000.jpg").unlink()
    with pytest.raises(UserInputError, match="all_souls_000000.jpg"):
        load_real("roxford5k", tmp_path)
    (tmp_path / "roxford5k" / "gnd_roxford5k.pkl").unlink()
    with pytest.raises(UserInputError, match="gnd_roxford5k.pkl"):
        load_real("roxford5k", tmp_path)


# ---------------------------------------------------------------- original Oxford / Paris


def make_oxford(root: Path, nested: bool = False, prefix: str = "oxc1_") -> None:
    """Two queries; on Paris the images sit in jpg/paris/<landmark>/ as the tarballs unpack."""
    names = ["b_000001", "a_000002", "a_000000", "b_000000", "a_000001"]
    for i, n in enumerate(names):
        sub = Path("paris") / n.split("_")[0] if nested else Path()
        write_image(root / "jpg" / sub / f"{n}.jpg", seed=i)
    gt = root / "gt"
    gt.mkdir()
    files = {
        "a_1_query.txt": f"{prefix}a_000000 1.0 2.0 10.0 11.0\n",
        "a_1_good.txt": "a_000000\na_000002\n",
        "a_1_ok.txt": "a_000001\n",
        "a_1_junk.txt": "b_000001\n",
        "b_1_query.txt": f"{prefix}b_000000 0 0 16 12\n",
        "b_1_good.txt": "b_000000\n",
        "b_1_ok.txt": "",
        "b_1_junk.txt": "",
    }
    for fname, text in files.items():
        (gt / fname).write_text(text)


@pytest.mark.parametrize("nested,prefix", [(False, "oxc1_"), (True, "")])
def test_oxford_original_to_gnd(tmp_path, nested, prefix):
    make_oxford(tmp_path, nested, prefix)
    rset = load_real("paris6k" if nested else "oxford5k", tmp_path)
    stems = [Path(p).name for p in rset.imlist]
    assert stems == ["a_000000", "a_000001", "a_000002", "b_000000", "b_000001"]
    assert [Path(q).name for q in rset.qimlist] == ["a_000000", "b_000000"]
    assert rset.gnd[0] == {"bbx": [1.0, 2.0, 10.0, 11.0], "easy": [0, 1, 2], "hard": [], "junk": [4]}
    assert rset.gnd[1] == {"bbx": [0.0, 0.0, 16.0, 12.0], "easy": [3], "hard": [], "junk": []}
    assert all(rset.db_path(i).is_file() for i in range(len(rset.imlist)))
    assert rset.load_query(0).shape == (9, 9, 3)


def test_oxford_original_errors(tmp_path):
    make_oxford(tmp_path)
    (tmp_path / "gt" / "a_1_ok.txt").unlink()
    with pytest.raises(UserInputError, match="a_1_ok.txt"):
        load_real("oxford5k", tmp_path)
    (tmp_path / "gt" / "a_1_ok.txt").write_text("a_000001\na_000099\n")
    with pytest.raises(UserInputError, match="a_000099.jpg"):
        load_real("oxford5k", tmp_path)
    assert load_real("oxford5k", tmp_path, skip_missing=True).gnd[0]["easy"] == [0, 1, 2]
    (tmp_path / "jpg" / "a_000000.jpg").unlink()  # a query image
    with pytest.raises(UserInputError, match="a_000000.jpg"):
        load_real("oxford5k", tmp_path, skip_missing=True)


# ---------------------------------------------------------------- classification


def test_caltech101_mirrors_torchvision(tmp_path):
    from torchvision.datasets import Caltech101

    cats = tmp_path / "caltech101" / "101_ObjectCategories"
    for c, n in [("Faces", 2), ("BACKGROUND_Google", 2), ("accordion", 3), ("airplanes", 1)]:
        for k in range(1, n + 1):
            write_image(cats / c / f"image_{k:04d}.jpg", seed=k, grey=(c == "accordion"))
    ds = load_real("caltech101", tmp_path)
    tv = Caltech101(str(tmp_path))
    assert ds.classes == tv.categories == ["Faces", "accordion", "airplanes"]
    assert ds.targets == tv.y == [0, 0, 1, 1, 1, 2]
    img, label = ds[2]  # a grey jpg comes back as 3-channel RGB
    assert_image_tensor(img)
    assert label == 1


def test_caltech256_layout(tmp_path):
    cats = tmp_path / "caltech256" / "256_ObjectCategories"
    for c, n in [("001.ak47", 2), ("002.american-flag", 1), ("257.clutter", 2)]:
        for k in range(1, n + 1):
            write_image(cats / c / f"{c[:3]}_{k:04d}.jpg", seed=k)
    (cats / "002.american-flag" / "RENAME2").write_text("")  # stray non-jpg, ignored as torchvision does
    ds = load_real("caltech256", tmp_path, transform=lambda x: x[:, :4, :4])
    assert ds.classes == ["001.ak47", "002.american-flag", "257.clutter"]
    assert ds.targets == [0, 0, 1, 2, 2]
    assert ds[4][0].shape == (3, 4, 4)


def test_image_folder_and_flat_dir(tmp_path):
    for i, rel in enumerate(["cat/a.jpg", "cat/b.PNG", "dog/sub/c.png", "dog/notes.txt"]):
        if rel.endswith(".txt"):
            (tmp_path / rel).write_text("")
        else:
            write_image(tmp_path / rel, seed=i)
    ds = load_real("image_folder", tmp_path)
    assert ds.classes == ["cat", "dog"] and ds.targets == [0, 0, 1]
    assert_image_tensor(ds[2][0])
    flat = load_real("image_dir", tmp_path / "cat")
    assert len(flat) == 2 and [p.name for p in flat.paths] == ["a.jpg", "b.PNG"]
    assert_image_tensor(flat[1])
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserInputError, match="empty"):
        load_real("image_folder", tmp_path)  # a class folder with no image
    with pytest.raises(UserInputError, match=str(tmp_path / "empty")):
        load_real("image_dir", tmp_path / "empty")


def test_stratified_split_is_deterministic_and_stratified():
    labels = [0] * 10 + [1] * 7 + [2] * 5
    a = stratified_split(labels, train=3, val=1, seed=7)
    assert a == stratified_split(labels, train=3, val=1, seed=7)
    assert a != stratified_split(labels, train=3, val=1, seed=8)
    lab = np.array(labels)
    for c, n in [(0, 10), (1, 7), (2, 5)]:
        assert (lab[a["train"]] == c).sum() == 3 and (lab[a["val"]] == c).sum() == 1
        assert (lab[a["test"]] == c).sum() == n - 4
    assert sorted(a["train"] + a["val"] + a["test"]) == list(range(len(labels)))
    b = stratified_split(labels, train=0.6, val=0.2, test=1, seed=0)
    assert [(lab[b["train"]] == c).sum() for c in range(3)] == [6, 4, 3]
    assert len(b["test"]) == 3
    with pytest.raises(UserInputError, match="class 2 has 5"):
        stratified_split(labels, train=5, val=1)


# ---------------------------------------------------------------- DIV2K


def make_div2k(root: Path, scale: int = 4) -> None:
    for k, (h, w) in enumerate([(40, 48), (32, 64)], start=1):
        hr = write_image(root / "DIV2K_train_HR" / f"{k:04d}.png", h, w, seed=k)
        lr_path = root / "DIV2K_train_LR_bicubic" / f"X{scale}" / f"{k:04d}x{scale}.png"
        lr_path.parent.mkdir(parents=True, exist_ok=True)
        # exact subsampling instead of bicubic, so aligned crops must agree pixel for pixel
        assert cv2.imwrite(str(lr_path), np.ascontiguousarray(hr[::scale, ::scale]))


def test_div2k_pairs_and_aligned_crops(tmp_path):
    make_div2k(tmp_path)
    full = load_real("div2k", tmp_path)
    lr, hr = full[0]
    assert lr.shape == (3, 10, 12) and hr.shape == (3, 40, 48)
    assert torch.equal(hr[:, ::4, ::4], lr)

    ds = load_real("div2k", tmp_path, patch_size=16, seed=3)
    origins = set()
    for epoch in range(4):
        ds.set_epoch(epoch)
        for i in range(len(ds)):
            lr, hr = ds[i]
            assert lr.shape == (3, 4, 4) and hr.shape == (3, 16, 16)
            assert torch.equal(hr[:, ::4, ::4], lr)
            origins.add((i, *ds.crop_origin(i, *full[i][0].shape[1:])))
    assert len(origins) > 2  # crops move between epochs
    again = load_real("div2k", tmp_path, patch_size=16, seed=3)
    again.set_epoch(3)
    assert torch.equal(again[1][1], ds[1][1])  # same (seed, epoch, index) → same crop
    with pytest.raises(UserInputError, match="multiple of the scale"):
        load_real("div2k", tmp_path, patch_size=18)


def test_div2k_missing_lr_is_named(tmp_path):
    make_div2k(tmp_path)
    (tmp_path / "DIV2K_train_LR_bicubic" / "X4" / "0002x4.png").unlink()
    with pytest.raises(UserInputError, match="0002x4.png"):
        load_real("div2k", tmp_path)
    with pytest.raises(UserInputError, match="DIV2K_valid_HR"):
        load_real("div2k", tmp_path, split="valid")


# ---------------------------------------------------------------- AVA


def make_ava(root: Path) -> None:
    rows = [
        "1 953619 0 1 5 17 38 36 15 6 5 1 1 22 1396",
        "2 953958 10 7 15 26 26 21 10 8 1 2 15 0 1396",
        "3 954184 0 0 4 8 41 56 10 3 4 0 0 0 1396",
    ]
    (root / "AVA.txt").write_text("\n".join(rows) + "\n")
    write_image(root / "images" / "953619.jpg", seed=1)
    write_image(root / "images" / "954184.jpg", seed=2)


def test_ava_distribution_and_mean_score(tmp_path):
    make_ava(tmp_path)
    with pytest.raises(UserInputError, match="953958.jpg"):
        load_real("ava", tmp_path)
    ds = load_real("ava", tmp_path, skip_missing=True)
    assert ds.ids == [953619, 954184] and ds.skipped == [953958]
    img, dist = ds[0]
    assert_image_tensor(img)
    counts = np.array([0, 1, 5, 17, 38, 36, 15, 6, 5, 1], dtype=np.float64)
    assert dist.dtype == torch.float32 and dist.shape == (10,)
    assert torch.allclose(dist, torch.from_numpy(counts / counts.sum()).float())
    assert abs(float(dist.sum()) - 1.0) < 1e-6
    expected = (counts * np.arange(1, 11)).sum() / counts.sum()
    assert mean_score(counts) == pytest.approx(expected)
    assert mean_score(dist) == pytest.approx(expected, rel=1e-6)
    other = np.array([0, 0, 4, 8, 41, 56, 10, 3, 4, 0])
    assert ds.mean_scores() == pytest.approx([expected, (other * np.arange(1, 11)).sum() / other.sum()])


def test_ava_malformed_line(tmp_path):
    make_ava(tmp_path)
    with open(tmp_path / "AVA.txt", "a") as f:
        f.write("4 955000 1 2 3\n")
    with pytest.raises(UserInputError, match="line 4"):
        load_real("ava", tmp_path, skip_missing=True)
