import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory):
    """Every test session builds datasets and caches from scratch, like CI on a clean machine.

    Set through os.environ so that subprocesses (the real console script) see it too.
    """
    root = tmp_path_factory.mktemp("tasksweep-cache")
    old = os.environ.get("TASKSWEEP_CACHE")
    os.environ["TASKSWEEP_CACHE"] = str(root)
    yield root
    if old is None:
        os.environ.pop("TASKSWEEP_CACHE", None)
    else:
        os.environ["TASKSWEEP_CACHE"] = old
