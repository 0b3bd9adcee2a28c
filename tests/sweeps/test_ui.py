"""``tasksweep ui`` and serving, tried as a person would: a real smoke sweep and promote, a real
MLflow server, the real app, headless Chromium driving the page, and ``mlflow models serve``.

The browser test is skipped (with how to install it) where Chromium and its driver are absent.
Screenshots go to ``test-artifacts/`` at the repo root (or ``$TASKSWEEP_TEST_ARTIFACTS``).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data
from mlflow import MlflowClient

from sweeps.mlflow_layout import run_url
from tests.mlflow_server.test_server import free_port

REPO = Path(__file__).resolve().parents[2]
SWEEP = REPO / "sweeps" / "qair_denoise.yaml"
CLI = [sys.executable, "-m", "sweeps.cli"]
ARTIFACTS = Path(os.environ.get("TASKSWEEP_TEST_ARTIFACTS", REPO / "test-artifacts"))
CHROMIUM, DRIVER = shutil.which("chromium") or shutil.which("chromium-browser"), shutil.which("chromedriver")
NO_BROWSER = ("no Chromium here: install it with 'apt-get install chromium chromium-driver' "
              "(and 'pip install selenium') to run the browser test")
pytestmark = pytest.mark.slow


def tasksweep(cwd: Path, *args: str) -> str:
    proc = subprocess.run(CLI + list(args), cwd=cwd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def wait_http(url: str, timeout: float = 60, proc: subprocess.Popen | None = None) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the process serving {url} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer within {timeout} s")


@pytest.fixture(scope="module")
def promoted(tmp_path_factory):
    """A two-objective smoke sweep (tables, Pareto plot), promoted, behind a real MLflow server."""
    cwd = tmp_path_factory.mktemp("ui")
    tasksweep(cwd, "launch", str(SWEEP), "--smoke", "--set", "scheduler=fifo", "--set", "num_samples=2",
              "--set", "objectives=[{metric: val_map, mode: max}, {metric: val_psnr, mode: max}]")
    promote_out = tasksweep(cwd, "promote", "--experiment", "qair_denoise_sigma50")
    port = free_port()
    tasksweep(cwd, "server", "start", "--port", str(port))
    try:
        yield cwd, f"http://127.0.0.1:{port}", promote_out
    finally:
        subprocess.run(CLI + ["server", "stop"], cwd=cwd, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def ui(promoted):
    cwd, mlflow_url, _ = promoted
    port = free_port()
    log = open(cwd / "ui.log", "w")
    proc = subprocess.Popen(CLI + ["ui", "--port", str(port), "--tracking-uri", mlflow_url], cwd=cwd,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/healthz", proc=proc)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()


def upload_file(folder: Path) -> Path:
    """A 512×512 photo that is not in the benchmark (scikit-image's cat), as PNG."""
    path = folder / "cat.png"
    cv2.imwrite(str(path), cv2.resize(skimage.data.chelsea(), (512, 512))[..., ::-1])
    return path


def post(url: str, data: bytes) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=data, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=120) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_non_loopback_ui_is_refused_before_anything_starts(tmp_path):
    proc = subprocess.run(CLI + ["ui", "--host", "0.0.0.0", "--port", str(free_port())], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""  # nothing announced, nothing started
    assert proc.stderr.strip().startswith("tasksweep: error: refusing to bind non-loopback host '0.0.0.0'")
    assert "--allowed-hosts and --basic-auth" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_ui_basic_auth_asks_for_the_admin_password(tmp_path):
    port = free_port()
    env = {**os.environ, "MLFLOW_AUTH_ADMIN_PASSWORD": "s3cret-for-test"}
    proc = subprocess.Popen(CLI + ["ui", "--basic-auth", "--port", str(port), "--tracking-uri", f"sqlite:///{tmp_path / 'm.db'}"],
                            cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}/healthz"
    try:
        deadline = time.time() + 60
        while True:
            assert proc.poll() is None and time.time() < deadline, "the ui did not start"
            try:
                urllib.request.urlopen(url, timeout=2)
                raise AssertionError("answered without credentials")
            except urllib.error.HTTPError as e:
                assert e.code == 401 and "Basic" in e.headers["WWW-Authenticate"]
                break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.3)
        for password, ok in (("wrong", False), ("s3cret-for-test", True)):
            token = base64.b64encode(f"admin:{password}".encode()).decode()
            request = urllib.request.Request(url, headers={"Authorization": f"Basic {token}"})
            try:
                with urllib.request.urlopen(request, timeout=5) as r:
                    assert ok and r.read() == b"ok"
            except urllib.error.HTTPError as e:
                assert not ok and e.code == 401
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def test_promote_prints_direct_links_into_the_mlflow_ui(promoted):
    _, _, out = promoted
    assert "/#/experiments/" in out and "/runs/" in out and "/#/models/qair_denoise/versions/1" in out


def test_api_scores_the_champion_against_its_baseline_and_rejects_bad_input(promoted, ui):
    cwd, _, _ = promoted
    image = upload_file(cwd).read_bytes()
    status, result = post(f"{ui}/api/try?model=qair_denoise&version=champion&noise=50", image)
    assert status == 200, result
    titles = [p["title"] for p in result["panels"]]
    assert titles == ["reference (your upload)", "input (degraded here)", "qair_denoise v1", "baseline: NLM"]
    noisy, model, nlm = (p["scores"]["PSNR (dB)"] for p in result["panels"][1:])
    assert 13 < noisy < 16  # σ = 50 AWGN on a 512² photo: about 14.5 dB
    assert nlm > noisy + 8  # the classical baseline really denoises
    assert model > noisy  # even a smoke-sized DnCNN removes some noise
    for bad, query, code, words in ((b"not an image", "model=qair_denoise", 400, "not a PNG or JPEG"),
                                    (image, "model=nope", 400, "no registered model 'nope'"),
                                    (image, "model=qair_denoise&scale=4", 400, "serves scale 1"),
                                    (image, "model=qair_denoise&noise=abc", 400, "noise"),
                                    (b"\x89PNG\r\n\x1a\n" + bytes(9 * 2**20), "model=qair_denoise", 413, "limit")):
        status, body = post(f"{ui}/api/try?{query}", bad)
        assert status == code and words in body["detail"], (query, status, body)
    with urllib.request.urlopen(f"{ui}/healthz", timeout=5) as r:  # still serving
        assert r.read() == b"ok"


@pytest.mark.skipif(not (CHROMIUM and DRIVER), reason=NO_BROWSER)
def test_page_in_headless_chromium_and_the_sweep_in_mlflow_ui(promoted, ui):
    pytest.importorskip("selenium", reason=NO_BROWSER)
    from selenium import webdriver
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import Select, WebDriverWait

    cwd, mlflow_url, _ = promoted
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1500,1100"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=DRIVER), options=options)
    try:
        wait = WebDriverWait(driver, 120)
        driver.get(ui)
        wait.until(lambda d: Select(d.find_element(By.ID, "version")).options)  # models listed
        assert Select(driver.find_element(By.ID, "model")).first_selected_option.get_attribute("value") == "qair_denoise"
        wait.until(lambda d: d.find_element(By.ID, "noise").get_attribute("value") == "50")  # the scheme's σ
        assert "its MLflow run" in driver.find_element(By.ID, "links").text
        driver.find_element(By.ID, "file").send_keys(str(upload_file(cwd)))
        driver.find_element(By.ID, "run").click()
        wait.until(EC.text_to_be_present_in_element((By.ID, "status"), "done in"))
        figures = driver.find_elements(By.CSS_SELECTOR, "#results figure")
        assert [f.find_element(By.TAG_NAME, "figcaption").text for f in figures][2:] == ["qair_denoise v1", "baseline: NLM"]
        for figure in figures:
            img = figure.find_element(By.TAG_NAME, "img")
            assert driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img) == 512
        assert "PSNR (dB)" in figures[2].text and "SSIM" in figures[3].text
        driver.save_screenshot(str(ARTIFACTS / "ui_page.png"))

        # Bad input: a message on the page, and the page still works.
        bad = cwd / "notes.png"
        bad.write_text("not an image")
        driver.find_element(By.ID, "file").send_keys(str(bad))
        driver.find_element(By.ID, "run").click()
        wait.until(EC.visibility_of_element_located((By.ID, "error")))
        assert "not a PNG or JPEG" in driver.find_element(By.ID, "error").text

        # Where users browse the sweep: the parent run's artifacts in MLflow's own UI.
        client = MlflowClient(mlflow_url)
        experiment = client.get_experiment_by_name("qair_denoise_sigma50")
        assert experiment.tags.get("mlflow.experimentKind") == "custom_model_development"
        parent = client.search_runs([experiment.experiment_id], filter_string="tags.`tasksweep.role` = 'sweep'")[0]
        driver.get(run_url(mlflow_url, experiment.experiment_id, parent.info.run_id, tab="artifacts"))
        wait.until(EC.text_to_be_present_in_element((By.TAG_NAME, "body"), "pareto.png"))
        body = driver.find_element(By.TAG_NAME, "body").text
        assert "tables" in body and "optuna_history.png" in body, body
        assert "Evaluations" not in body  # the model-training side of the UI, not GenAI's
        driver.save_screenshot(str(ARTIFACTS / "mlflow_parent_run.png"))
    finally:
        driver.quit()


def test_mlflow_models_serve_answers_with_the_declared_output(promoted):
    cwd, mlflow_url, _ = promoted
    port = free_port()
    log = open(cwd / "serve.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "mlflow", "models", "serve", "-m", "models:/qair_denoise@champion",
                             "--env-manager", "local", "--host", "127.0.0.1", "--port", str(port)],
                            cwd=cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                            # the scoring server runs `uvicorn` from PATH: the venv's, as if it were activated
                            env={**os.environ, "MLFLOW_TRACKING_URI": mlflow_url,
                                 "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"})
    try:
        wait_http(f"http://127.0.0.1:{port}/ping", timeout=120, proc=proc)
        image = np.random.default_rng(0).integers(0, 256, (1, 24, 20, 3), dtype=np.uint8)
        request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", method="POST",
                                         data=json.dumps({"inputs": image.tolist()}).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as r:
            out = np.asarray(json.loads(r.read())["predictions"])
        assert out.shape == (1, 24, 20, 3) and out.min() >= 0 and out.max() <= 255
        assert np.array_equal(out, np.round(out))  # uint8 images back, as declared
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()
