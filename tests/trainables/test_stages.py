import json
import threading

import pytest

from trainables.stages import cached_stage, stage_dir


def test_builds_once_and_records_its_key():
    calls = []

    def build(folder):
        calls.append(folder)
        (folder / "out.txt").write_text("built")

    key = {"what": "once", "n": 1}
    first = cached_stage("demo", key, build)
    second = cached_stage("demo", key, build)
    assert first == second == stage_dir("demo", key)
    assert len(calls) == 1
    assert (first / "out.txt").read_text() == "built"
    assert json.loads((first / "key.json").read_text()) == key


def test_a_different_key_is_a_different_folder():
    build = lambda folder: (folder / "x").write_text("")
    a = cached_stage("demo", {"what": "key", "lam_free": 1}, build)
    b = cached_stage("demo", {"what": "key", "lam_free": 2}, build)
    assert a != b and a.is_dir() and b.is_dir()
    assert stage_dir("demo", {"b": 1, "a": 2}) == stage_dir("demo", {"a": 2, "b": 1})  # order-free


def test_a_failed_build_leaves_nothing_and_the_next_call_retries():
    key = {"what": "fails first"}

    def broken(folder):
        (folder / "half.txt").write_text("half")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        cached_stage("demo", key, broken)
    folder = stage_dir("demo", key)
    assert not folder.exists()
    assert not list(folder.parent.glob(f".{folder.name}-*"))  # no temporary folder left
    built = cached_stage("demo", key, lambda f: (f / "ok.txt").write_text("ok"))
    assert (built / "ok.txt").read_text() == "ok"


def test_concurrent_callers_build_once():
    calls, barrier = [], threading.Barrier(4)

    def build(folder):
        calls.append(1)
        (folder / "x").write_text("")

    def worker():
        barrier.wait()
        cached_stage("demo", {"what": "concurrent"}, build)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1


def test_a_declared_stage_builds_once_and_loads_from_its_folder():
    from trainables.stages import Stage

    builds = []

    def build(out, config, split, *, device, progress):
        builds.append(split)
        (out / "value.txt").write_text(str(config["n"] * split))

    stage = Stage("demo-declared", version=3, key=lambda config, split: {"n": config["n"], "split": split},
                  build=build, load=lambda folder, config, split, *, device: int((folder / "value.txt").read_text()),
                  tag=lambda split: f"s{split}")
    folder = stage.ensure({"n": 7}, 2, device="cpu")
    assert stage.ensure({"n": 7}, 2, device="cpu") == folder == stage.folder({"n": 7}, 2)
    assert builds == [2] and folder.name.startswith("demo-declared-s2-")
    assert stage.load(folder, {"n": 7}, 2, device="cpu") == 14
    assert json.loads((folder / "key.json").read_text()) == {"stage": "demo-declared", "version": 3, "n": 7, "split": 2}
    bumped = Stage("demo-declared", 4, stage.key, build, stage.load, stage.tag)
    assert bumped.folder({"n": 7}, 2) != folder  # a new version is a new build


def test_check_runs_before_a_build_only():
    from trainables.errors import UserInputError
    from trainables.stages import Stage

    checked, built = [], []

    def check(config):
        checked.append(config["n"])
        if config["n"] < 0:
            raise UserInputError("missing input")

    stage = Stage("demo-checked", 1, key=lambda config: {"n": config["n"]},
                  build=lambda out, config, *, device, progress: built.append(config["n"]),
                  load=lambda folder, config, *, device: folder.name, check=check)
    with pytest.raises(UserInputError, match="missing input"):
        stage.ensure({"n": -1}, device="cpu")
    assert built == [] and not stage.folder({"n": -1}).exists()  # nothing built, nothing left
    assert stage.get({"n": 1}, device="cpu").startswith("demo-checked-")  # get = load(ensure(...))
    stage.ensure({"n": 1}, device="cpu")
    assert checked == [-1, 1] and built == [1]  # a built stage is not checked again
