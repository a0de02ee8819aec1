"""Print the built report's pages with one headless Chromium, driven over the DevTools protocol.

One browser is kept open for the whole run and each page is opened in a fresh tab over one
websocket (flattened CDP sessions). A page is printed when it says it has rendered (`READY_JS`:
no skeletons, every ECharts chart drawn and its animation finished), not after a fixed wait.

- A page that logs Evidence's `<query> | Error in Query!` to the console, or shows one of its red
  error boxes, fails the run at once (`PageBroken`): a query error is deterministic, so it is
  never retried. With templated pages left to the browser, this is the build's query check.
- A page that does not finish in `PAGE_TIMEOUT_SECONDS` (or whose print hangs) is tried again in
  a fresh tab, then, once per run, in a fresh browser, before the run fails naming the route.
- A stop request (SIGTERM, SIGINT, Dagster's terminate) kills the browser's process group at
  once, from the stop watcher thread; whatever ends the run, the browser is killed on the way
  out. Nothing is downloaded: Chromium is the system's (`pdf.find_chromium`).

Evidence swaps every ECharts chart for a 4x JPEG on `beforeprint` (EChartsCopyTarget.svelte); the
capture-phase guard `NO_JPEG_COPY` stops that, so the live charts (renderer='svg' in the pages)
print as vector drawings.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ctypes
import itertools
import json
import os
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from orchestration.core import stopping

PAGE_TIMEOUT_SECONDS = 45.0
"""A page that has not rendered and printed in this long is hung (a page takes 3-12 s)."""

TABS = 2
"""Pages open at once in the one browser: the machine's two cores, one renderer each."""

HANG_HOOK_ENV = "ICW_TEST_PRINT_HANG"
"""Test hook: `<route>:<attempt>[,<attempt>...]` makes that route's page spin for ever on those
attempts (`for(;;){}` before any of its scripts), so the tests can show a hang is recovered."""

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--hide-scrollbars",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--mute-audio",
    "--remote-debugging-port=0",
)

PRINT_WIDTH_PX = 1032
"""A4 landscape (297 mm) less the layout's 2 x 12 mm margins, at 96 px to the inch: the charts
are laid out at the width they are printed at."""

NO_JPEG_COPY = (
    "window.addEventListener('beforeprint', e => e.stopImmediatePropagation(), {capture: true});"
)

READY_JS = r"""(() => {
  const charts = Object.values(window[Symbol.for('__evidence-chart-window-debug__')] || {})
      .filter(c => !c.isDisposed());
  const busy = charts.filter(c => !c.getZr().animation.isFinished() || c.__pendingUpdate);
  const text = document.body ? document.body.innerText : '';
  const article = document.getElementById('evidence-main-article');
  const app = location.protocol !== 'file:';  // not the pack's own cover and index
  return JSON.stringify({ready: document.readyState === 'complete'
      && !document.getElementById('__evidence_project_splash')  // the app has mounted
      && (!app || (!!article && article.innerText.trim().length > 0))
      && document.fonts.status === 'loaded'
      && !(window.__icwQueriesInFlight && window.__icwQueriesInFlight())  // +layout.svelte
      && document.querySelectorAll('.animate-pulse').length === 0
      && !/Loading\.\.\./.test(text)
      && charts.length === document.querySelectorAll('[_echarts_instance_]').length
      && busy.length === 0,
    errorBoxes: Array.from(document.querySelectorAll('.bg-red-50.border-red-200'))
      .map(e => e.innerText.replace(/\s+/g, ' ').slice(0, 200))
      .concat(Array.from(document.querySelectorAll('h1'))  // Evidence's error page
        .map(h => h.innerText.trim())
        .filter(t => /^(Page Not Found|Application Error|Unknown Error Encountered)$/.test(t))
        .map(t => t + ': ' + (document.body.innerText.replace(/\s+/g, ' ').slice(0, 300))))});
})()"""


class PrintError(RuntimeError):
    """A page could not be printed."""


class PageHung(PrintError):
    """A page did not render, or its print did not come back, in time."""


class PageBroken(PrintError):
    """A page shows a query error: deterministic, so never retried."""


@dataclass(frozen=True)
class Job:
    """One page to open: printed to `target`, or (target None) only loaded and checked.

    `html_class` is added to the page's root element before its scripts run, for CSS that
    applies to one kind of print only (the division pack leaves the funnel plots out). `scale`
    shrinks the print (the page is laid out that much wider, so charts still fill the width).
    """

    route: str
    target: Path | None = None
    html_class: str = ""
    scale: float = 1.0
    dom: bool = False  # return the rendered page's HTML (the tests read it)


def hang_hook_from_env(value: str | None = None) -> Callable[[str, int], bool]:
    """The test hook of `HANG_HOOK_ENV`: which (route, attempt) should hang; none when unset."""
    value = os.environ.get(HANG_HOOK_ENV, "") if value is None else value
    hangs: set[tuple[str, int]] = set()
    for item in filter(None, (part.strip() for part in value.split(";"))):
        route, _, attempts = item.rpartition(":")
        hangs.update((route, int(a)) for a in attempts.split(",") if a.strip())
    return lambda route, attempt: (route, attempt) in hangs


class Browser:
    """One Chromium process and one websocket; many tabs (flattened sessions) over it."""

    def __init__(self, chromium: Path, started: Callable[[subprocess.Popen], None]) -> None:
        self.chromium = chromium
        self._started = started
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future] = {}
        self._listeners: dict[str, Callable[[dict], None]] = {}
        self.proc: subprocess.Popen | None = None
        self.profile = ""

    async def start(self) -> None:
        """Launch Chromium in its own process group and connect to its DevTools socket."""
        self.profile = tempfile.mkdtemp(prefix="icw-chromium-")
        self.proc = subprocess.Popen(
            [str(self.chromium), *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        self._started(self.proc)
        port_file, deadline = Path(self.profile, "DevToolsActivePort"), time.monotonic() + 30
        while not (port_file.exists() and len(port_file.read_text().splitlines()) >= 2):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise PrintError(f"Chromium ({self.chromium}) did not start "
                                 f"(exit {self.proc.poll()})")
            await asyncio.sleep(0.05)
        port, path = port_file.read_text().splitlines()[:2]
        self.ws = await connect(f"ws://127.0.0.1:{port}{path}", max_size=None)
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        with contextlib.suppress(ConnectionClosed):  # the browser died: pending calls time out
            async for raw in self.ws:
                msg = json.loads(raw)
                future = self._pending.pop(msg.get("id"), None)
                if future is not None:
                    if future.done():
                        continue
                    if "error" in msg:
                        future.set_exception(PrintError(str(msg["error"].get("message"))))
                    else:
                        future.set_result(msg.get("result", {}))
                elif (listener := self._listeners.get(msg.get("sessionId", ""))) is not None:
                    listener(msg)

    async def send(self, method: str, params: dict | None = None, session: str = "",
                   timeout: float = 30) -> dict:
        """One DevTools call; a call with no answer in `timeout` seconds is a hang."""
        number = next(self._ids)
        future = asyncio.get_running_loop().create_future()
        self._pending[number] = future
        message: dict = {"id": number, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        try:
            await self.ws.send(json.dumps(message))
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise PageHung(f"{method}: no answer in {timeout:.0f} s") from None
        except ConnectionClosed as exc:
            raise PageHung(f"{method}: the browser closed its socket ({exc})") from None
        finally:
            self._pending.pop(number, None)

    async def close(self) -> None:
        """Close the browser politely, kill it if it does not go, and remove its profile."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.send("Browser.close", timeout=5), 5)
        with contextlib.suppress(Exception):
            await self.ws.close()
        if self.proc is not None:
            kill_group(self.proc)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(10)
        shutil.rmtree(self.profile, ignore_errors=True)

    async def open_page(self, url: str, job: Job, timeout: float,
                        hang: bool = False) -> int | str:
        """Open url in a fresh tab, wait until it has rendered, print it if asked.

        Returns the bytes written, or the page's HTML for a `dom` job.
        """
        tab = (await self.send("Target.createTarget", {"url": "about:blank"}))["targetId"]
        errors: list[str] = []
        exceptions: list[str] = []
        session = ""
        try:
            session = (await self.send(
                "Target.attachToTarget", {"targetId": tab, "flatten": True}))["sessionId"]
            self._listeners[session] = lambda m: _collect_query_errors(m, errors, exceptions)
            setup = NO_JPEG_COPY
            if job.html_class:
                setup += (f"document.addEventListener('DOMContentLoaded', () => document"
                          f".documentElement.classList.add({json.dumps(job.html_class)}));")
            for method, params in (
                ("Page.enable", {}),
                ("Runtime.enable", {}),
                ("Emulation.setDeviceMetricsOverride", {"width": round(PRINT_WIDTH_PX / job.scale),
                                                        "height": 730,
                                                        "deviceScaleFactor": 1, "mobile": False}),
                # laid out as printed from the start: charts are drawn at the printed width
                ("Emulation.setEmulatedMedia", {"media": "print"}),
                ("Page.addScriptToEvaluateOnNewDocument", {"source": setup}),
            ):
                await self.send(method, params, session=session)
            if hang:  # the test hook: a renderer that never comes back
                await self.send("Page.addScriptToEvaluateOnNewDocument",
                                {"source": "for(;;){}"}, session=session)
            await self.send("Page.navigate", {"url": url}, session=session)
            deadline, stable = time.monotonic() + timeout, 0
            while stable < 3:  # "ready" three times in a row, 100 ms apart
                left = deadline - time.monotonic()
                if errors:
                    raise PageBroken(f"{job.route}: page queries failed: {_first(errors)}")
                if left <= 0 and exceptions:  # deterministic: not retried
                    raise PageBroken(f"{job.route} did not render, after an error in the page: "
                                     f"{_first(exceptions)}")
                if left <= 0:
                    raise PageHung(f"{job.route} did not finish rendering in {timeout:.0f} s")
                answer = await self.send("Runtime.evaluate",
                                         {"expression": READY_JS, "returnByValue": True},
                                         session=session, timeout=min(left, 10))
                state = json.loads(answer["result"]["value"])
                if state["errorBoxes"]:
                    raise PageBroken(f"{job.route} shows an error: {_first(state['errorBoxes'])}")
                stable = stable + 1 if state["ready"] else 0
                await asyncio.sleep(0.1)
            if job.dom:
                html = await self.send("Runtime.evaluate", {
                    "expression": "document.documentElement.outerHTML", "returnByValue": True,
                }, session=session)
                return str(html["result"]["value"])
            if job.target is None:
                return 0
            pdf = await self.send(
                "Page.printToPDF",
                {"printBackground": True, "preferCSSPageSize": True, "scale": job.scale,
                 "transferMode": "ReturnAsStream"},
                session=session, timeout=max(deadline - time.monotonic(), 10),
            )
            return await self._save(pdf["stream"], job.target, session)
        finally:
            self._listeners.pop(session, None)
            with contextlib.suppress(PrintError):  # the browser process closes a hung tab too
                await self.send("Target.closeTarget", {"targetId": tab}, timeout=10)

    async def _save(self, stream: str, target: Path, session: str) -> int:
        size = 0
        with target.open("wb") as out:
            while True:  # IO.* goes to the tab's session, else "Invalid stream handle"
                chunk = await self.send("IO.read", {"handle": stream, "size": 1 << 20},
                                        session=session)
                data = chunk["data"]
                size += out.write(base64.b64decode(data) if chunk.get("base64Encoded")
                                  else data.encode("latin-1"))
                if chunk.get("eof"):
                    break
        await self.send("IO.close", {"handle": stream}, session=session)
        return size


def _collect_query_errors(msg: dict, errors: list[str], exceptions: list[str]) -> None:
    """Evidence logs `<query> | Error in Query!` (sdk/src/usql/query/Query.js) for each failure.

    An exception the page does not catch is kept too: if the page then never renders, it is
    what broke it (a page script that fails on data still loading, for one).
    """
    if msg.get("method") == "Runtime.exceptionThrown":
        details = msg["params"].get("exceptionDetails", {})
        text = str(details.get("exception", {}).get("description") or details.get("text", ""))
        exceptions.append(" ".join(text.splitlines()[:2])[:300])
        return
    if msg.get("method") != "Runtime.consoleAPICalled" or msg["params"].get("type") != "error":
        return
    args = msg["params"].get("args") or []
    first = str(args[0].get("value", "")) if args else ""
    if first.endswith("| Error in Query!"):
        detail = str(args[1].get("value") or args[1].get("description") or "") if len(
            args) > 1 else ""
        detail = " ".join(detail.split())[:300]
        errors.append(first.removesuffix(" | Error in Query!") + (f": {detail}" if detail else ""))


def _first(messages: list[str], count: int = 3) -> str:
    unique = list(dict.fromkeys(messages))
    more = len(unique) - count
    return " | ".join(unique[:count]) + (f" and {more} more" if more > 0 else "")


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL it when the process that started it dies (Linux).

    Covers what no handler can: the report's process killed with SIGKILL. (Its own process
    group keeps a terminal's Ctrl-C from reaching it before the printer closes it.)
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG; libc is loaded


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL a browser and its renderers (its own process group); quick, thread-safe."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)


class Printer:
    """One Chromium for a whole run: `open(jobs)` as often as needed, killed when the block ends.

    A hung page is retried in a fresh tab, then (once for the whole run) in a fresh browser. A
    stop request kills the browser at once, from the stop watcher thread, so that a stopped run
    never leaves a browser behind; so does leaving the block, whatever ends it.
    """

    def __init__(self, base_url: str, chromium: Path, log: Callable[[str], None] = print,
                 timeout: float = PAGE_TIMEOUT_SECONDS, tabs: int = TABS,
                 hang: Callable[[str, int], bool] | None = None) -> None:
        self.base_url, self.chromium, self.log = base_url, chromium, log
        self.timeout, self.tabs = timeout, tabs
        self.hang = hang or hang_hook_from_env()
        self.restarted = False
        self._processes: list[subprocess.Popen] = []
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> Printer:
        with contextlib.ExitStack() as stack:
            stack.enter_context(stopping.on_stop(self._kill_all))
            stack.callback(self._kill_all)
            self._runner = stack.enter_context(asyncio.Runner())
            self._browser = self._new_browser()
            self._runner.run(self._browser.start())
            self._stack = stack.pop_all()
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            with contextlib.suppress(Exception):
                self._runner.run(asyncio.wait_for(self._browser.close(), 15))
        finally:
            self._stack.close()
            for proc in self._processes:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(10)

    def open(self, jobs: list[Job]) -> dict[str, int | str]:
        """Open every job's page, print those with a target; bytes printed (or HTML) by route.

        Raises:
            PageBroken: a page shows a query error (the first one found); not retried.
            PrintError: a page did not render in three attempts.
        """
        return self._runner.run(self._open_all(jobs))

    def _new_browser(self) -> Browser:
        return Browser(self.chromium, self._processes.append)

    def _kill_all(self, _signum: int | None = None) -> None:
        for proc in list(self._processes):
            kill_group(proc)

    async def _open_all(self, jobs: list[Job]) -> dict[str, int | str]:
        lock, gate = asyncio.Lock(), asyncio.Semaphore(self.tabs)
        sizes: dict[str, int | str] = {}

        async def one(job: Job) -> None:
            url = job.route if "://" in job.route else self.base_url + job.route
            for attempt in (1, 2, 3):
                async with gate:
                    current = self._browser
                    started = time.monotonic()
                    try:
                        sizes[job.route] = await current.open_page(
                            url, job, self.timeout, hang=self.hang(job.route, attempt))
                        took[job.route] = time.monotonic() - started
                        return
                    except PageBroken:
                        raise
                    except Exception as exc:  # noqa: BLE001 - a hung tab, a dead browser
                        self.log(f"report: {job.route} failed on attempt {attempt}: {exc}")
                if attempt == 2:  # a second tab failed too: a fresh browser, once per run
                    async with lock:
                        if self._browser is current and not self.restarted:
                            self.restarted = True
                            self.log("report: restarting Chromium")
                            await current.close()
                            self._browser = self._new_browser()
                            await self._browser.start()
            raise PrintError(f"Chromium could not print {job.route}: it did not render in "
                             f"{self.timeout:.0f} s in 3 attempts (a fresh tab each time, and "
                             "a fresh browser once)")

        took: dict[str, float] = {}
        tasks = [asyncio.create_task(one(job)) for job in jobs]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if len(took) > 1:
            slowest = max(took, key=took.__getitem__)
            self.log(f"report: {len(took)} pages, each rendered and printed in "
                     f"{statistics.median(took.values()):.1f} s (median), the slowest "
                     f"{slowest} in {took[slowest]:.1f} s")
        return sizes
