"""The HTTP service as a client sees it: a real uvicorn server on a free loopback port."""

import concurrent.futures
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from textrnn.app.explain import explain, render_html
from textrnn.app.runs import TrainSettings, load_run_model, train_run


@pytest.fixture(scope="module")
def run_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve")
    common = dict(data="sample", epochs=2, train_size=600, maxlen=60, vocab_size=2000, units=8, patience=0)
    train_run(TrainSettings(model="lstm", **common), root / "lstm", verbose=0)
    train_run(TrainSettings(model="bi-lstm", **common), root / "bi", verbose=0)
    return root


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(run_dirs):
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "textrnn", "serve", str(run_dirs / "lstm"),
                             "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url + "/health", timeout=1)
            break
        except OSError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("server did not start: " + proc.stdout.read().decode(errors="replace")[-2000:])
    yield url
    proc.terminate()
    proc.wait(10)


def _post(url, body, content_type="application/json"):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": content_type}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_predict_matches_the_library_in_order(server, run_dirs):
    texts = ["A wonderful, moving film.", "Dull, long and badly acted.", "It was fine."]
    status, body = _post(server + "/predict", {"texts": texts})
    assert status == 200 and len(body["predictions"]) == 3
    model = load_run_model(run_dirs / "lstm")
    expected = model.predict(model.text_encoder.encode(texts))[:, 0]
    for got, want in zip(body["predictions"], expected):
        assert got["probability"] == pytest.approx(float(want), abs=1e-6)
        assert got["label"] == ("pos" if want > 0.5 else "neg")


def test_health_model_page_and_openapi(server):
    assert json.load(urllib.request.urlopen(server + "/health")) == {"status": "ok"}
    info = json.load(urllib.request.urlopen(server + "/model"))
    assert info["vocabulary_size"] == 2000 and info["maxlen"] == 60 and "Total params" in info["summary"]
    assert info["test_metrics"]["n"] == 1000
    page = urllib.request.urlopen(server + "/").read().decode()
    assert "<textarea" in page and "/explain" in page
    schema = json.load(urllib.request.urlopen(server + "/openapi.json"))
    assert {"/predict", "/explain", "/health", "/model"} <= set(schema["paths"])


def test_explain_endpoint_running_trace(server):
    status, body = _post(server + "/explain", {"text": "Superb acting. A wonderful film!"})
    assert status == 200 and body["method"] == "running"
    assert body["tokens"] == ["superb", "acting", "a", "wonderful", "film", "!"]
    assert len(body["scores"]) == 6 and len(body["running"]) == 6
    assert body["running"][-1] == pytest.approx(body["probability"], abs=1e-6)
    assert "<span" in body["html"]


@pytest.mark.parametrize("body,status,message", [
    (b"{not json", 422, ""),
    ({"texts": "not a list"}, 422, "texts"),
    ({"texts": []}, 422, "texts"),
    ({"texts": ["ok", ""]}, 422, "empty"),
    ({"texts": ["   "]}, 422, "empty"),
    ({"texts": [3]}, 422, "texts"),
    ({"texts": ["x" * 20_001]}, 422, "texts"),
    ({"texts": ["a"] * 257}, 422, "texts"),
    ({"wrong": ["a"]}, 422, "texts"),
    (b'{"texts": ["caf\xe9"]}', 400, "UTF-8"),
    (json.dumps({"texts": ["y" * 15_000] * 70}).encode(), 413, "bytes"),
])
def test_bad_requests_get_clear_4xx(server, body, status, message):
    got_status, got = _post(server + "/predict", body)
    assert got_status == status and message in got["detail"]
    assert json.load(urllib.request.urlopen(server + "/health"))["status"] == "ok"  # still alive


def test_chunked_body_over_the_limit_gets_413(server):
    # no Content-Length: the limit is found while reading, and the rest is drained before the reply
    import http.client
    from urllib.parse import urlsplit

    conn = http.client.HTTPConnection(urlsplit(server).netloc, timeout=30)
    chunks = (b'{"texts": ["' + b"z" * 100_000 if i == 0 else b"z" * 100_000 for i in range(15))
    conn.request("POST", "/predict", body=chunks, encode_chunked=True,
                 headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
    reply = conn.getresponse()
    assert reply.status == 413 and "bytes" in json.loads(reply.read())["detail"]
    conn.close()


def test_concurrent_requests(server):
    def one(i):
        return _post(server + "/predict", {"texts": [f"review number {i}, a good film"] * (1 + i % 5)})

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        results = list(pool.map(one, range(64)))
    assert all(status == 200 for status, _ in results)
    assert [len(b["predictions"]) for _, b in results] == [1 + i % 5 for i in range(64)]


def test_occlusion_for_bidirectional_models(run_dirs):
    model = load_run_model(run_dirs / "bi")
    exp = explain(model, "Superb acting. A wonderful film!")
    assert exp.method == "occlusion" and len(exp.scores) == 6
    # removing a word and re-predicting gives exactly the score's complement
    from textrnn.data.text import pad_sequences

    ids = model.text_encoder.vocabulary.encode("Superb acting. A wonderful film!")
    without_first = pad_sequences([ids[:1] + ids[2:]], maxlen=60)
    removed = float(model.predict(without_first)[0, 0])
    assert exp.probability - removed == pytest.approx(exp.scores[0], abs=1e-6)
    assert 'title="' in render_html(exp)
    from textrnn.errors import ConfigError

    with pytest.raises(ConfigError, match="unidirectional"):
        explain(model, "Superb acting.", method="running")


def _browser():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.skip("headless Chromium not installed (apt-get install chromium chromium-driver)")
    try:
        from selenium import webdriver
    except ImportError:
        pytest.skip("selenium not installed")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run"):
        options.add_argument(flag)
    from selenium.webdriver.chrome.service import Service

    return webdriver.Chrome(options=options, service=Service(driver))


def test_page_in_a_real_browser(server, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser = _browser()
    try:
        browser.get(server + "/")
        box = browser.find_element(By.ID, "text")
        box.clear()
        box.send_keys("The acting is superb and the story is wonderful.")
        browser.find_element(By.ID, "go").click()
        WebDriverWait(browser, 20).until(lambda b: b.find_elements(By.CSS_SELECTOR, "#result .w"))
        words = [w.text for w in browser.find_elements(By.CSS_SELECTOR, "#result .w")]
        assert words == ["the", "acting", "is", "superb", "and", "the", "story", "is", "wonderful"]
        verdict = browser.find_element(By.CSS_SELECTOR, "#result .verdict").text
        assert re.fullmatch(r"P\(pos\) = 0\.\d{4} → (pos|neg) \(running\)", verdict), verdict
        shot = os.environ.get("TEXTRNN_ARTIFACTS", str(tmp_path))
        os.makedirs(shot, exist_ok=True)
        assert browser.save_screenshot(os.path.join(shot, "explain_page.png"))
    finally:
        browser.quit()


def test_overlapping_explain_and_predict_calls_all_succeed(server, run_dirs):
    """16 clients, a third of them on /explain (which once switched the shared model to every-step
    output, leaving later /predict calls at HTTP 500): every answer is 200 and every prediction is
    the library's."""
    texts = ["A wonderful, moving film.", "Dull, long and badly acted."]
    model = load_run_model(run_dirs / "lstm")
    expected = [float(p) for p in model.predict(model.text_encoder.encode(texts))[:, 0]]

    def client(k):
        results = []
        for i in range(12):
            if (k + i) % 3 == 0:
                status, body = _post(server + "/explain", {"text": texts[i % 2] + " " * i})
                results.append(status == 200 and len(body["scores"]) == len(body["tokens"]))
            else:
                status, body = _post(server + "/predict", {"texts": texts})
                got = [p["probability"] for p in body.get("predictions", [])]
                results.append(status == 200 and got == pytest.approx(expected, abs=1e-6))
        return results

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        outcomes = [ok for results in pool.map(client, range(16)) for ok in results]
    assert len(outcomes) == 192 and all(outcomes)
    status, _ = _post(server + "/predict", {"texts": texts})
    assert status == 200
