"""Notebook 04's live explorer in a real browser: JupyterLab on localhost, headless Chromium
driven by Playwright. The notebook runs, a latent slider is dragged with the mouse, and the
decoded image must change with no widget errors. A screenshot of the explorer is saved to
test-artifacts/explorer.png.

Chromium: Debian's `chromium` package (scripts/test.sh installs it where it can), or any
Chromium/Chrome named by the environment variable CHROMIUM_PATH.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT, offline_data_dir

ARTIFACTS = ROOT / "test-artifacts"
NOTEBOOK = "04_generation_interpolation.ipynb"


def chromium_path() -> str | None:
    """CHROMIUM_PATH, else a Chromium/Chrome on PATH, else None (Playwright's own browser)."""
    for cand in (os.environ.get("CHROMIUM_PATH"), shutil.which("chromium"), shutil.which("chromium-browser"),
                 shutil.which("google-chrome")):
        if cand and Path(cand).exists():
            return cand
    return None


def launch(pw):
    args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"]
    try:
        return pw.chromium.launch(executable_path=chromium_path(), headless=True, args=args)
    except Exception as err:
        pytest.fail(f"Could not start Chromium for the browser test ({str(err).splitlines()[0]}). Install "
                    f"Debian's `chromium` package (scripts/test.sh does so as root), run "
                    f"`.venv/bin/python -m playwright install chromium`, or set CHROMIUM_PATH.")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def lab(tmp_path):
    """A JupyterLab server on 127.0.0.1 serving a copy of notebook 04 (so autosave never touches
    the repository), with the offline data and an empty runs/ folder (the shipped checkpoint)."""
    work = tmp_path / "lab"
    work.mkdir()
    shutil.copy(ROOT / "notebooks" / NOTEBOOK, work / NOTEBOOK)
    (work / "helpers").symlink_to(ROOT / "helpers")
    port, token = free_port(), secrets.token_hex(16)
    env = dict(os.environ, FASHION_MNIST_DIR=str(offline_data_dir()), VAE_LAB_RUNS_DIR=str(tmp_path / "runs"),
               JUPYTER_CONFIG_DIR=str(tmp_path / "jupyter-config"), JUPYTERLAB_SETTINGS_DIR=str(tmp_path / "lab-settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "lab-workspaces"))
    env.pop("VAE_LAB_SMOKE", None)
    news = tmp_path / "lab-settings" / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True)
    (news / "notification.jupyterlab-settings").write_text('{"fetchNews": "false", "checkForUpdates": false}')
    log = open(tmp_path / "jupyter.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={work}", "--ServerApp.open_browser=False"]
        + (["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []),
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=work)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
            break
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                proc.kill()
                pytest.fail("JupyterLab did not start:\n" + (tmp_path / "jupyter.log").read_text()[-3000:])
            time.sleep(0.5)
    yield url, token, work
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def run_all_cells(page, sliders, timeout_s: float = 180, attempts: int = 3) -> None:
    """Run > Run All Cells, as a learner would, until the explorer's sliders show.

    On a cold start (seen twice, both as the first test on a fresh clone) JupyterLab took the
    click while the kernel's session was not yet settled and dropped the queue: at most the
    first cell ran, every other prompt was left "[ ]", the kernel idle, no error anywhere. So:
    click, and when no cell has been queued or running ("[*]") for 15 s and no slider has
    appeared, click again.
    """
    busy = page.locator(".jp-InputPrompt", has_text="[*]")
    deadline = time.time() + timeout_s
    for _ in range(attempts):
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        quiet_since = time.time()
        while time.time() < deadline:
            if sliders.count():
                return
            if busy.count():
                quiet_since = time.time()
            elif time.time() - quiet_since > 15:
                break  # nothing queued or running, no explorer: the run was dropped
            page.wait_for_timeout(250)
    prompts = page.locator(".jp-InputPrompt").all_inner_texts()
    pytest.fail(f"JupyterLab did not run the notebook to the explorer after {attempts} clicks on "
                f"Run All Cells (prompts: {prompts})")


def test_explorer_slider_drag_changes_the_image_in_jupyterlab(lab):
    from playwright.sync_api import sync_playwright

    url, token, work = lab
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = launch(pw)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        console_errors = []
        page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
        try:
            page.goto(f"{url}/lab/tree/{NOTEBOOK}?token={token}", timeout=60000)
            page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=60000)
            page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60000)
            page.wait_for_timeout(2000)  # let the kernel session settle before running
            sliders = page.locator(".widget-slider .noUi-handle")
            run_all_cells(page, sliders)
            sliders.first.wait_for(state="visible", timeout=120000)
            page.wait_for_timeout(1500)  # let the first render land
            images = page.locator("img.widget-image")
            live = images.nth(1)  # start item, decoded live, latent map
            live.scroll_into_view_if_needed()
            before_src, before_png = live.get_attribute("src"), live.screenshot()
            map_before = images.nth(2).screenshot()
            explorer = page.locator(".jp-OutputArea-output .widget-vbox").first
            explorer.screenshot(path=str(ARTIFACTS / "explorer.png"))  # as a learner first sees it
            handle = sliders.first
            box = handle.bounding_box()
            x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
            page.mouse.move(x, y)
            page.mouse.down()
            for step in range(1, 11):
                page.mouse.move(x + 12 * step, y, steps=2)
                page.wait_for_timeout(30)
            page.mouse.up()
            page.wait_for_timeout(1000)
            after_src, after_png = live.get_attribute("src"), live.screenshot()
            map_after = images.nth(2).screenshot()
            body = page.inner_text("body")
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "browser-failure.png"), full_page=True)
            raise
        finally:
            browser.close()
    assert after_src != before_src and after_png != before_png, "dragging the slider did not change the image"
    assert map_after != map_before, "the latent map's marker did not move"
    assert "Error displaying widget" not in body
    assert "Traceback" not in body, body[body.find("Traceback") - 200: body.find("Traceback") + 800]
    assert not [e for e in console_errors if "widget" in e.lower()], console_errors
    assert (ARTIFACTS / "explorer.png").stat().st_size > 10000
