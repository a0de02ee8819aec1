"""Print the built report's pages with one headless Chromium, driven over the DevTools protocol.

One browser is kept open for the whole run, driven over one websocket (flattened CDP sessions).
Each of `TABS` workers keeps a tab: the first page boots the app there, and every later page of
the same kind (pack or scorecard: they differ in width and class) is reached inside the app, as a
reader's click reaches it, so the app and DuckDB-WASM boot a few times a run, not once a page. A
page is printed when it says it has rendered (`READY_JS`: the layout reports this route drawn, no
query in flight, no skeletons, every ECharts chart drawn and its animation finished), not after a
fixed wait. Between pages the tab's garbage is collected, to keep two tabs under the 2 GiB budget.

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
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
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
attempts (`for(;;){}`: before any of its scripts in a fresh tab, as the click lands in a kept
one), so the tests can show a hang is recovered."""

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
    # no renderer kept warm beside the tabs' own: each one is 75-100 MB of the 2 GiB budget
    "--disable-features=SpareRendererForSitePerProcess",
)

PRINT_WIDTH_PX = 1032
"""A4 landscape (297 mm) less the layout's 2 x 12 mm margins, at 96 px to the inch: the charts
are laid out at the width they are printed at."""

NO_JPEG_COPY = (
    "window.addEventListener('beforeprint', e => e.stopImmediatePropagation(), {capture: true});"
)

NO_SERVICE_WORKER = "delete Navigator.prototype.serviceWorker;"
"""Evidence registers a service worker (it only changes caching on Windows); unregistered, it
cannot keep a closed tab's renderer alive beside the next tab's."""

READY_JS = r"""(() => {
  const charts = Object.values(window[Symbol.for('__evidence-chart-window-debug__')] || {})
      .filter(c => !c.isDisposed());
  const busy = charts.filter(c => !c.getZr().animation.isFinished() || c.__pendingUpdate);
  const text = document.body ? document.body.innerText : '';
  const article = document.getElementById('evidence-main-article');
  const app = location.protocol !== 'file:';  // not the pack's own cover and index
  const decoded = (path) => path && decodeURI(path);  // a code with a space, say, is %20 here
  return JSON.stringify({path: decoded(location.pathname),
    rendered: decoded(window.__icwRendered) || null,  // +layout.svelte: the route last drawn
    canNavigate: typeof window.__icwGoto === 'function',
    ready: document.readyState === 'complete'
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


def _setup_key(job: Job) -> tuple[str, float]:
    """Jobs with the same key can share a tab: it is laid out and marked for their print."""
    return job.html_class, job.scale


@dataclass(eq=False)
class Tab:
    """A tab of one browser, kept from page to page; `in_app` once it shows a page of the app."""

    browser: Browser
    target: str
    session: str
    key: tuple[str, float]
    in_app: bool = False
    route: str = ""  # the page it shows
    loads: int = 0  # pages navigated to (the app booted again)
    navigations: int = 0  # pages reached inside the app
    errors: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)

    async def close(self) -> None:
        """Close the tab; a hung one too (the browser process closes it)."""
        self.browser._listeners.pop(self.session, None)
        with contextlib.suppress(PrintError):
            await self.browser.send("Target.closeTarget", {"targetId": self.target}, timeout=10)


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
        for target in (await self.send("Target.getTargets"))["targetInfos"]:
            if target["type"] == "page":  # the start-up about:blank and its renderer
                await self.send("Target.closeTarget", {"targetId": target["targetId"]})

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

    async def new_tab(self, job: Job, hang: bool = False) -> Tab:
        """A fresh tab set up for `job`'s kind of print: its width, its class, no JPEG copies."""
        target = (await self.send("Target.createTarget", {"url": "about:blank"}))["targetId"]
        tab = Tab(self, target, "", _setup_key(job))
        try:
            tab.session = (await self.send(
                "Target.attachToTarget", {"targetId": target, "flatten": True}))["sessionId"]
            self._listeners[tab.session] = lambda m: _collect_query_errors(
                m, tab.errors, tab.exceptions)
            setup = NO_JPEG_COPY + NO_SERVICE_WORKER
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
                await self.send(method, params, session=tab.session)
            if hang:  # the test hook: a renderer that never comes back
                await self.send("Page.addScriptToEvaluateOnNewDocument",
                                {"source": "for(;;){}"}, session=tab.session)
        except BaseException:
            await tab.close()
            raise
        return tab

    async def open_page(self, tab: Tab, url: str, job: Job, timeout: float,
                        hang: bool = False) -> int | str:
        """Show url in `tab`, wait until it has rendered, print it if asked.

        A tab that has shown a page of the app goes to the next one the way a reader's click
        does (`window.__icwGoto`, the layout's SvelteKit `goto`): no second boot of the app and
        DuckDB-WASM. A fresh tab, or a page outside the app, is navigated to. The page counts as
        rendered only once the layout reports this very route drawn (`__icwRendered`, set in
        SvelteKit's `afterNavigate`), so the last page's content is never printed for this one.

        Returns the bytes written, or the page's HTML for a `dom` job.
        """
        if tab.errors:  # a query of the last page failed after it was printed
            raise PageBroken(f"{tab.route}: page queries failed: {_first(tab.errors)}")
        tab.exceptions.clear()
        tab.route = job.route
        route = urllib.parse.urlsplit(url)
        in_app = route.scheme != "file"
        path = urllib.parse.unquote(route.path)  # as READY_JS reports it: decoded
        if tab.in_app and in_app:
            # V8 would keep the last page's garbage (the tab grew from 330 to 490 MB over the
            # 16 scorecards); collected between pages, it stays at about 330 MB
            await self.send("HeapProfiler.collectGarbage", session=tab.session, timeout=timeout)
            if hang:  # the test hook, for a kept tab: its renderer spins once the click is in
                await self.send("Runtime.evaluate", {"expression": "setTimeout(() => {for(;;){}})"},
                                session=tab.session)
            await self.send("Runtime.evaluate", {
                "expression": f"window.__icwGoto({json.dumps(urllib.parse.quote(path))})",
            }, session=tab.session, timeout=timeout)
            tab.navigations += 1
        else:
            await self.send("Page.navigate", {"url": url}, session=tab.session)
            tab.loads += 1
        tab.in_app = False  # until this page has rendered
        deadline, stable = time.monotonic() + timeout, 0
        while stable < 3:  # "ready" three times in a row, 100 ms apart
            left = deadline - time.monotonic()
            if tab.errors:
                raise PageBroken(f"{job.route}: page queries failed: {_first(tab.errors)}")
            if left <= 0 and tab.exceptions:  # deterministic: not retried
                raise PageBroken(f"{job.route} did not render, after an error in the page: "
                                 f"{_first(tab.exceptions)}")
            if left <= 0:
                raise PageHung(f"{job.route} did not finish rendering in {timeout:.0f} s")
            answer = await self.send("Runtime.evaluate",
                                     {"expression": READY_JS, "returnByValue": True},
                                     session=tab.session, timeout=min(left, 10))
            state = json.loads(answer["result"]["value"])
            if state["errorBoxes"]:
                raise PageBroken(f"{job.route} shows an error: {_first(state['errorBoxes'])}")
            here = not in_app or state["rendered"] == state["path"] == path
            stable = stable + 1 if state["ready"] and here else 0
            await asyncio.sleep(0.1)
        tab.in_app = in_app and state["canNavigate"]
        if job.dom:
            html = await self.send("Runtime.evaluate", {
                "expression": "document.documentElement.outerHTML", "returnByValue": True,
            }, session=tab.session)
            return str(html["result"]["value"])
        if job.target is None:
            return 0
        pdf = await self.send(
            "Page.printToPDF",
            {"printBackground": True, "preferCSSPageSize": True, "scale": job.scale,
             "transferMode": "ReturnAsStream"},
            session=tab.session, timeout=max(deadline - time.monotonic(), 10),
        )
        return await self._save(pdf["stream"], job.target, tab.session)

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
        thrown = details.get("exception", {})
        text = str(thrown.get("description") or details.get("text", ""))
        if not thrown.get("description") and thrown.get("value") is not None:
            # a promise rejected with a plain value, as Evidence's DataTable rejects with the
            # string "Error in table: <column> does not exist in the dataset"
            text = f"{text}: {thrown['value']}"
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
        """Each of `self.tabs` workers keeps a tab and takes the next job its tab is set up for.

        The app boots once per tab (and per kind of print: the pack's pages are laid out wider
        than the scorecards); every other page is an in-app navigation, as a reader's click is.
        """
        lock = asyncio.Lock()
        queue = list(jobs)
        sizes: dict[str, int | str] = {}
        took: dict[str, float] = {}
        tabs: list[Tab] = []  # every tab opened, for the counts
        kinds: dict[int, tuple[str, float]] = {}  # the kind of print each worker is on

        def take(worker: int, tab: Tab | None) -> Job | None:
            """The first job this worker's tab can show as it is; else one no other tab is on."""
            others = {key for n, key in kinds.items() if n != worker}
            found = next((job for job in queue if tab is not None and tab.in_app
                          and _setup_key(job) == tab.key), None)
            found = found or next((job for job in queue if _setup_key(job) not in others), None)
            found = found or (queue[0] if queue else None)
            if found is not None:
                queue.remove(found)
                kinds[worker] = _setup_key(found)
            return found

        async def worker(n: int) -> None:
            tab: Tab | None = None
            try:
                while (job := take(n, tab)) is not None:
                    tab = await one(job, tab)
                if tab is not None and tab.errors:  # after its last page was printed
                    raise PageBroken(f"{tab.route}: page queries failed: {_first(tab.errors)}")
            finally:
                if tab is not None:
                    await tab.close()

        async def one(job: Job, tab: Tab | None) -> Tab | None:
            url = job.route if "://" in job.route else self.base_url + job.route
            for attempt in (1, 2, 3):
                current = self._browser
                started = time.monotonic()
                hang = self.hang(job.route, attempt)
                try:
                    if tab is not None and (tab.browser is not current or not tab.in_app
                                            or tab.key != _setup_key(job)):
                        await tab.close()
                        tab = None
                    if tab is None:
                        tab = await current.new_tab(job, hang=hang)
                        tabs.append(tab)
                        hang = False  # set up in the fresh tab already
                    sizes[job.route] = await current.open_page(tab, url, job, self.timeout,
                                                               hang=hang)
                    took[job.route] = time.monotonic() - started
                    return tab
                except PageBroken:
                    raise
                except Exception as exc:  # noqa: BLE001 - a hung tab, a dead browser
                    self.log(f"report: {job.route} failed on attempt {attempt}: {exc}")
                    if tab is not None:
                        await tab.close()  # the next attempt gets a fresh tab
                        tab = None
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

        tasks = [asyncio.create_task(worker(n)) for n in range(min(self.tabs, len(jobs)))]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if len(took) > 1:
            slowest = max(took, key=took.__getitem__)
            loads = sum(t.loads for t in tabs)
            self.log(f"report: {len(took)} pages ({loads} loaded, "
                     f"{sum(t.navigations for t in tabs)} reached within the app), each "
                     f"rendered and printed in {statistics.median(took.values()):.1f} s "
                     f"(median), the slowest {slowest} in {took[slowest]:.1f} s")
        return sizes
