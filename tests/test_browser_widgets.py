"""The panels RENDER in a real JupyterLab, driven by headless Chromium.

JupyterLab runs in a subprocess on a tiny notebook that opens a private local server,
syncs, and displays the panels; Playwright (Debian's Chromium, never a downloaded one) opens
it, runs every cell, and checks that the widget DOM appears with the panels' labels, that a
Bokeh plot is drawn, and that no JavaScript error and no Python error showed up.

The key test drives the vetting panel by keys only (after one click on its candidate area)
against a local server run by the test itself, and checks on that server that each save and
reject landed and that the undo reversed one, and in JupyterLab that no notebook command ran
(same cells, same cell types, the notebook file not saved). It asserts outcomes, never times.
:func:`jupyterlab` is shared with ``benchmarks/bench_vetting_browser.py``.
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
from collections.abc import Iterator
from contextlib import contextmanager
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


def write_notebook(path: Path, cells: list[str]) -> Path:
    """A notebook of code cells, with the default Python kernel."""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(notebook, path)
    return path


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium (install Debian's chromium to run browser tests)")
    pytest.importorskip("playwright.sync_api")
    root = tmp_path_factory.mktemp("lab")
    write_notebook(root / "panels.ipynb", CELLS)
    with jupyterlab(root) as (url, token):
        yield url, token, root


@contextmanager
def jupyterlab(root: Path) -> Iterator[tuple[str, str]]:
    """JupyterLab serving ``root`` on a free loopback port: yields (url, token)."""
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
        # No autosave: the key test checks that no key press saved the notebook.
        "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
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


def test_panels_render_in_jupyterlab(lab: tuple[str, str, Path]) -> None:
    from playwright.sync_api import sync_playwright

    url, token, _root = lab
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
            header = OBJ_ID
            first = page.evaluate(f"() => {header}")
            page.click(".widget-button:has-text('Skip')")
            page.wait_for_function(f"() => {header} !== {json.dumps(first)}", timeout=15_000)
            page.wait_for_timeout(1500)
            after = _collect(page)
        finally:
            browser.close()
    assert dom["python_errors"] == [], dom["python_errors"]
    # a button's label may carry its key: "Save (s)"
    labels = {b.split(" (")[0] for b in dom["buttons"]}
    for label in ("Save", "Reject", "Skip", "Classify", "Comment", "Post", "Undo", "Push", "Drop"):
        assert label in labels, f"button {label!r} missing; buttons: {sorted(labels)}"
    assert dom["images"] >= 3, "the three cutouts should render as <img>"
    assert dom["bokeh"] >= 1, "the light curve (Bokeh) did not render"
    # BokehJS (2.1 MB inline) is sent once per kernel and page, not with every plotting
    # cell, and in JupyterLab's copy only
    assert dom["bokehjs_loads"] == 1, dom["bokehjs_loads"]
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
            bokehjs_loads: (() => {  // outputs in the notebook that carry BokehJS
                const cells = window.jupyterapp.shell.currentWidget.content.model.cells;
                let n = 0;
                for (let i = 0; i < cells.length; i++) {
                    const outputs = cells.get(i).outputs;
                    for (let j = 0; outputs && j < outputs.length; j++) {
                        const data = outputs.get(j).data || {};
                        if ('application/vnd.bokehjs_load.v0+json' in data) n++;
                        // the classic notebook's copy of the same 2.1 MB is not sent
                        if ('application/javascript' in data) n += 100;
                    }
                }
                return n;
            })(),
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


# -- keys ---------------------------------------------------------------------------------------

KEY_CELLS = [
    "import json\n"
    "from widgets import VettingPanel\n"
    "from workbench.facade import Workbench\n"
    "wb = Workbench.open({url!r}, {token!r}, {cache!r}, rate_limit=None)\n"
    "summary = wb.sync()",
    # the scanner's group: the one whose filters passed the most candidates
    "passing = wb.candidates()['passing_group_ids'].map(json.loads).explode().dropna()\n"
    "gid = int(passing.astype(int).value_counts().index[0])\n"
    "vetting = VettingPanel(wb, group_ids=[gid], poll_seconds=None)\n"
    "vetting",
    "print('keys ready', gid)",
]
# parenthesised: "OBJ_ID === x" must compare the id, not bind to the ?? fallback
OBJ_ID = "(document.querySelector('.wb-vetting .wb-obj-id')?.textContent?.trim() ?? '')"
STATUS = """() => [...document.querySelectorAll(
    '.wb-vetting .wb-status, .wb-vetting .wb-class-hint, .wb-vetting textarea'
)].map(e => e.value ?? e.textContent).join(' | ')"""
# Points in the light curve's BokehJS detections source (-1: no light curve in the page).
LC_POINTS = """() => {
    for (const view of (window.Bokeh?.index?.roots ?? [])) {
        const det = view.model.document?.get_model_by_name('det');
        if (det) { const x = det.data instanceof Map ? det.data.get('x') : det.data.x;
                   return x ? x.length : 0; }
    }
    return -1;
}"""
# The light curve on screen: [figures visible, detections in the visible figure's BokehJS
# source, detections in the slide of the candidate shown] (the stage swaps two figures).
CURVE_SHOWN = """() => {
    const st = window.__wbStage?.values().next().value;
    const slide = st?.slides.get(st.displayed);
    const area = document.querySelector('.wb-vetting .wb-candidate-area');
    const boxes = [...area.querySelectorAll('.wb-lc-plot-0, .wb-lc-plot-1')]
        .filter(b => getComputedStyle(b).visibility === 'visible');
    for (const view of (window.Bokeh?.index?.roots ?? [])) {
        if (boxes.length && boxes[0].contains(view.el)) {
            const det = view.model.document.get_model_by_name('det');
            const x = det.data instanceof Map ? det.data.get('x') : det.data.x;
            return [boxes.length, x.length, slide ? slide.curve.det[0].x.length : -1];
        }
    }
    return [boxes.length, -1, -1];
}"""
CELL_TYPES = """() => {
    const cells = window.jupyterapp.shell.currentWidget.content.model.cells;
    return Array.from({length: cells.length}, (_, i) => cells.get(i).type);
}"""


def launch_chromium(playwright):  # type: ignore[no-untyped-def]
    """Debian's Chromium, headless, with nothing fetched from the network."""
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
    )


def open_and_run(page, url: str, token: str, name: str, done: str, timeout_ms: int = 120_000):  # type: ignore[no-untyped-def]
    """Open notebook ``name`` in its own JupyterLab workspace, run every cell, and wait for
    an output containing ``done``."""
    workspace = Path(name).stem
    page.goto(f"{url}/lab/workspaces/{workspace}/tree/{name}?token={token}", timeout=30_000)
    page.wait_for_function("() => window.jupyterapp !== undefined", timeout=30_000)
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=30_000)
    page.wait_for_function(
        "() => window.jupyterapp.shell.currentWidget?.sessionContext?.session?.kernel"
        "?.status === 'idle'",
        timeout=60_000,
    )
    # Not awaited: the command's promise settles only when every cell has run.
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
    page.wait_for_selector(f".jp-OutputArea-output >> text={done}", timeout=timeout_ms)


def _wait(check, what: str, timeout: float = 30.0):  # type: ignore[no-untyped-def]
    """Wait until ``check()`` is truthy (an outcome, not a time: the limit only ends a
    test that would otherwise hang)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting: {what}")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def key_server():  # type: ignore[no-untyped-def]
    """A local server of the test's own, so that the test can read what reached it."""
    from workbench.server import LocalServer

    srv = LocalServer(sources=12, candidates=16, seed=5, token=str(uuid.uuid4())).start()
    yield srv
    srv.stop()


def _saved_to(server, obj_id: str) -> set[int]:  # type: ignore[no-untyped-def]
    answer = requests.get(
        f"{server.url}/api/sources/{obj_id}/groups",
        headers={"Authorization": f"token {server.token}"},
        timeout=10,
    )
    return {g["id"] for g in answer.json()["data"]} if answer.ok else set()


def _rejected(server) -> set[str]:  # type: ignore[no-untyped-def]
    return {x["obj_id"] for x in server.store.listings if x["list_name"] == "rejected_candidates"}


def test_keys_drive_the_panel_and_never_reach_jupyterlab(
    lab: tuple[str, str, Path], key_server, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    url, token, root = lab
    cells = [
        c.format(url=key_server.url, token=key_server.token, cache=str(tmp_path / "k.duckdb"))
        for c in KEY_CELLS
    ]
    write_notebook(root / "keys.ipynb", cells)
    contents = f"{url}/api/contents/keys.ipynb"

    def saved_at() -> str:
        return requests.get(contents, params={"token": token, "content": 0}, timeout=10).json()[
            "last_modified"
        ]

    before_saved = saved_at()
    page_errors: list[str] = []
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("pageerror", lambda exc: page_errors.append(str(exc)))
            open_and_run(page, url, token, "keys.ipynb", "keys ready")
            gid = int(page.inner_text(".jp-OutputArea-output >> text=keys ready").split()[-1])
            cell_types = page.evaluate(CELL_TYPES)
            area = ".wb-vetting .wb-candidate-area"
            corner = {"x": 6, "y": 6}  # the header, not a plot or a button
            page.click(area, position=corner)  # the one click: the panel gets the keys

            def current() -> str:
                return page.evaluate(f"() => {OBJ_ID}")

            def press(key: str) -> None:
                page.hover(area, position=corner)  # the pointer stays over the panel
                page.keyboard.press(key)

            def next_after(previous: str) -> str:
                page.wait_for_function(
                    f"() => {{ const v = {OBJ_ID}; return v !== '' && v !== "
                    f"{json.dumps(previous)}; }}",
                    timeout=30_000,
                )
                return current()

            a = _wait(current, "the first candidate's id in the header")
            # the first candidate's light curve is drawn before any key (it was sent before
            # the figure had a view in the page: it must be in the figure's first document)
            page.wait_for_function(f"() => ({LC_POINTS})() > 0", timeout=30_000)
            press("s")  # save A to the panel's group
            b = next_after(a)
            _wait(lambda: gid in _saved_to(key_server, a), f"{a} saved to group {gid}")
            press("r")  # reject B
            c = next_after(b)
            _wait(lambda: b in _rejected(key_server), f"{b} rejected on the server")
            press("u")  # undo the reject: B is back, and no longer rejected on the server
            page.wait_for_function(f"() => {OBJ_ID} === {json.dumps(b)}", timeout=30_000)
            _wait(lambda: b not in _rejected(key_server), f"{b}'s rejection undone")
            press("n")  # skip B
            after_skip = next_after(b)
            assert after_skip != b
            press("b")  # back to B
            page.wait_for_function(f"() => {OBJ_ID} === {json.dumps(b)}", timeout=30_000)
            # JupyterLab's command-mode keys: m (markdown), dd (delete cell), s (save). Over
            # the panel, m starts a comment and Escape cancels it; none reaches JupyterLab.
            steps = []
            for key in ("m", "d", "d", "s", "Escape"):
                press(key)  # as fast as a person types: no pause between keys
                steps.append((key, current(), page.evaluate(STATUS)))
            page.wait_for_timeout(500)  # let any stray command land before looking
            after_types = page.evaluate(CELL_TYPES)
            final = current()
            # one figure shown, holding the curve of the candidate shown (drawn ahead into
            # the hidden figure and swapped in, or drawn into the one shown)
            curves, shown = [], final
            for _ in range(4):
                press("n")
                shown = next_after(shown)
                page.wait_for_function(
                    f"() => {{ const [n, mine, theirs] = ({CURVE_SHOWN})(); "
                    "return n === 1 && mine === theirs && mine >= 0; }",
                    timeout=30_000,
                )
                curves.append(page.evaluate(CURVE_SHOWN))
            # a comment by keys: m focuses the comment box, the letters go into it, Enter
            # queues it in the outbox; then the keys are the panel's again (n moves on)
            for key in ("m", "o", "k", "Enter"):
                press(key)
            page.wait_for_function(
                f"() => ({STATUS})().includes('comment on {shown} queued')", timeout=30_000
            )
            press("n")
            next_after(shown)
        finally:
            browser.close()
    assert a != b != c
    assert gid in _saved_to(key_server, a), "the save by key did not stay"
    assert b not in _rejected(key_server), "the undo did not reverse the rejection"
    assert final == b, steps
    assert any(mine > 0 for _shown, mine, _theirs in curves), curves
    assert after_types == cell_types == ["code"] * len(KEY_CELLS), after_types
    assert saved_at() == before_saved, "a key press saved the notebook"
    assert page_errors == [], page_errors
    comments = requests.get(
        f"{key_server.url}/api/sources/{b}/comments",
        headers={"Authorization": f"token {key_server.token}"},
        timeout=10,
    )
    assert not comments.ok or all("dds" not in x["text"] for x in comments.json()["data"])
