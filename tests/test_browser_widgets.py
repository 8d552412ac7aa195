"""The panels RENDER in a real JupyterLab, driven by headless Chromium.

JupyterLab runs in a subprocess on a tiny notebook that opens a private local server,
syncs, and displays the panels; Playwright (Debian's Chromium, never a downloaded one) opens
it, runs every cell, and checks that the widget DOM appears with the panels' labels, that a
Bokeh plot is drawn, and that no JavaScript error and no Python error showed up.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import nbformat
import pytest
import requests

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
JUPYTER = Path(sys.executable).with_name("jupyter")

CELLS = [
    "from widgets import ClassificationPanel, OutboxPanel, VettingPanel\n"
    "from widgets.session import open_session\n"
    "session = open_session(sources=12, candidates=8, seed=3)\n"
    "wb = session.wb\n"
    "summary = wb.sync()",
    "vetting = VettingPanel(wb)\nvetting",
    "ClassificationPanel(wb, vetting.state.current)",
    "OutboxPanel(wb)",
    "print('panels shown', len(vetting.state.queue))",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium (install Debian's chromium to run browser tests)")
    pytest.importorskip("playwright.sync_api")
    root = tmp_path_factory.mktemp("lab")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(notebook, root / "panels.ipynb")
    port, token = _free_port(), uuid.uuid4().hex
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SKYPORTAL_", "WORKBENCH_"))}
    repo = Path(__file__).resolve().parents[1]
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(repo), env.get("PYTHONPATH")]))
    for name in ("JUPYTER_RUNTIME_DIR", "JUPYTER_CONFIG_DIR"):
        env[name] = str(root / name.lower())
    env["JUPYTERLAB_SETTINGS_DIR"] = str(_lab_settings(root / "settings"))
    command = [
        str(JUPYTER), "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        "--LabApp.expose_app_in_browser=True", "--allow-root",
        f"--LabApp.workspaces_dir={root / 'workspaces'}",
    ]  # fmt: skip
    log = open(root / "lab.log", "wb")  # noqa: SIM115  (closed below)
    proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=root)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(url, token, proc, root / "lab.log")
        yield url, token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        log.close()
        shutil.rmtree(root / "jupyter_runtime_dir", ignore_errors=True)


def _lab_settings(where: Path) -> Path:
    """User settings: start the notebook's kernel without asking, and fetch no news."""
    settings = {
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {
            "autoStartDefaultKernel": True
        },
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
            "fetchNews": "false",
            "checkForUpdates": False,
        },
    }
    for name, values in settings.items():
        path = where / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    return where


def _wait_for(url: str, token: str, proc: subprocess.Popen, log: Path, timeout: float = 40) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"jupyter lab exited:\n{log.read_text()[-3000:]}")
        try:
            if requests.get(f"{url}/api/status", params={"token": token}, timeout=2).ok:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"jupyter lab did not start in {timeout} s:\n{log.read_text()[-3000:]}")


def test_panels_render_in_jupyterlab(lab: tuple[str, str]) -> None:
    from playwright.sync_api import sync_playwright

    url, token = lab
    page_errors: list[str] = []
    console_errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("pageerror", lambda exc: page_errors.append(str(exc)))
            page.on(
                "console",
                lambda msg: console_errors.append(msg.text) if msg.type == "error" else None,
            )
            page.goto(f"{url}/lab/tree/panels.ipynb?token={token}", timeout=30_000)
            page.wait_for_function("() => window.jupyterapp !== undefined", timeout=30_000)
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=30_000)
            page.wait_for_function(
                "() => window.jupyterapp.shell.currentWidget?.sessionContext?.session?.kernel"
                "?.status === 'idle'",
                timeout=30_000,
            )
            # Not awaited: the command's promise settles only when every cell has run.
            page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
            page.wait_for_selector(".jp-OutputArea-output >> text=panels shown", timeout=60_000)
            dom = _collect(page)
            # Skip: the next candidate (prepared in the kernel's worker thread) must show,
            # with its light curve, and no widget may fail to render.
            header = "document.querySelector('.widget-html-content b').textContent"
            first = page.evaluate(f"() => {header}")
            page.click(".widget-button:has-text('Skip')")
            page.wait_for_function(f"() => {header} !== {json.dumps(first)}", timeout=15_000)
            page.wait_for_timeout(1500)
            after = _collect(page)
        finally:
            browser.close()
    assert dom["python_errors"] == [], dom["python_errors"]
    labels = set(dom["buttons"])
    for label in ("Save", "Reject", "Skip", "Classify", "Comment", "Post", "Undo", "Push", "Drop"):
        assert label in labels, f"button {label!r} missing; buttons: {sorted(labels)}"
    assert dom["images"] >= 3, "the three cutouts should render as <img>"
    assert dom["bokeh"] >= 1, "the light curve (Bokeh) did not render"
    assert dom["widget_errors"] == [] and after["widget_errors"] == [], after["widget_errors"]
    assert after["bokeh"] >= 1, "the next candidate's light curve did not render"
    assert page_errors == [], page_errors
    widget_errors = [e for e in console_errors if _is_widget_error(e)]
    assert widget_errors == [], widget_errors


def _collect(page) -> dict:  # type: ignore[no-untyped-def]
    # Bokeh draws asynchronously after the widget view exists: give it a moment.
    page.wait_for_selector(
        ".bk-Figure, .jupyter-widgets-error-widget", timeout=15_000, state="attached"
    )
    return page.evaluate(
        """() => ({
            buttons: [...document.querySelectorAll('.jupyter-widgets.widget-button')]
                .map(b => b.textContent.trim()),
            images: document.querySelectorAll('.jupyter-widgets img, img.widget-image').length,
            bokeh: document.querySelectorAll('.bk-Figure').length,
            widget_errors: [...document.querySelectorAll('.jupyter-widgets-error-widget')]
                .map(e => e.textContent.slice(0, 300)),
            python_errors: [...document.querySelectorAll(
                '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.error"],'
                + ' .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')]
                .map(e => e.textContent.slice(0, 500)),
        })"""
    )


def _is_widget_error(text: str) -> bool:
    lowered = text.lower()
    return any(word in lowered for word in ("widget", "bokeh", "model", "comm", "uncaught"))
