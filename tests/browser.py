"""Real headless Chromium, driven over the DevTools protocol, for the leaderboard tests.

Starts the Debian `chromium` binary with its own throw-away profile and
`--remote-debugging-port=0`, reads the port Chromium chose from
DevToolsActivePort, and talks to the page target over a websocket
(websocket-client, in the dev extra). While a page loads it records every
request the page makes (Network.requestWillBeSent), every console message and
uncaught exception, and every JavaScript dialog (an injected alert() would
open one).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--remote-debugging-port=0",
    "--remote-allow-origins=*",
    "--window-size=1280,900",
]


def find_chromium() -> str | None:
    """$JOULEBENCH_CHROMIUM, else `chromium` (Debian) or `chromium-browser` on PATH."""
    override = os.environ.get("JOULEBENCH_CHROMIUM")
    if override:
        return override
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class PageLoad:
    url: str
    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


class Chromium:
    def __init__(self, binary: str, profile_dir: Path, timeout_s: float = 30.0):
        self.timeout_s = timeout_s
        self.profile_dir = Path(profile_dir)
        self.profile_dir.mkdir(parents=True, exist_ok=True)
        self.log = open(self.profile_dir / "chromium.log", "wb")  # noqa: SIM115 (closed in close())
        self.process = subprocess.Popen(
            [binary, *CHROMIUM_FLAGS, f"--user-data-dir={self.profile_dir}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self._next_id = 0
        self.events: list[dict] = []
        try:
            self.ws = self._connect()
            for domain in ("Page", "Runtime", "Log", "Network"):
                self.call(f"{domain}.enable")
        except BaseException:
            self.close()
            raise

    def _connect(self):
        import websocket  # websocket-client, in the dev extra

        port_file = self.profile_dir / "DevToolsActivePort"
        deadline = time.monotonic() + self.timeout_s
        while not port_file.exists() or not port_file.read_text().strip():
            if self.process.poll() is not None:
                raise RuntimeError(f"chromium exited with {self.process.returncode}: {self._log_tail()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"chromium did not open its DevTools port: {self._log_tail()}")
            time.sleep(0.05)
        port = int(port_file.read_text().splitlines()[0])
        while True:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as response:
                targets = [t for t in json.load(response) if t.get("type") == "page"]
            if targets:
                break
            if time.monotonic() > deadline:
                raise TimeoutError("chromium has no page target")
            time.sleep(0.05)
        return websocket.create_connection(targets[0]["webSocketDebuggerUrl"], timeout=self.timeout_s, suppress_origin=True)

    def _log_tail(self) -> str:
        self.log.flush()
        return (self.profile_dir / "chromium.log").read_text(errors="replace")[-2000:]

    def call(self, method: str, params: dict | None = None) -> dict:
        self._next_id += 1
        ident = self._next_id
        self.ws.send(json.dumps({"id": ident, "method": method, "params": params or {}}))
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            message = json.loads(self.ws.recv())
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self.events.append(message)
        raise TimeoutError(f"no answer to {method}")

    def _wait_for_event(self, method: str) -> None:
        deadline = time.monotonic() + self.timeout_s
        while not any(e["method"] == method for e in self.events):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {method} event")
            message = json.loads(self.ws.recv())
            if "method" in message:
                self.events.append(message)

    def open(self, url: str) -> PageLoad:
        """Load a page and wait for its load event; what it requested and logged comes back."""
        self.events = []
        self.call("Page.navigate", {"url": url})
        self._wait_for_event("Page.loadEventFired")
        self.evaluate("document.readyState")  # drains events queued before the answer
        load = PageLoad(url)
        for event in self.events:
            method, params = event["method"], event.get("params", {})
            if method == "Network.requestWillBeSent":
                load.requests.append(params["request"]["url"])
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                load.console_errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
            elif method == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                load.console_errors.append(details.get("exception", {}).get("description") or details.get("text", "exception"))
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                entry = params["entry"]
                load.console_errors.append(f"{entry.get('source')}: {entry.get('text')} ({entry.get('url', '')})")
            elif method == "Network.loadingFailed":
                load.console_errors.append(f"request failed: {params.get('errorText')}")
            elif method == "Page.javascriptDialogOpening":
                load.dialogs.append(params.get("message", ""))
                self.call("Page.handleJavaScriptDialog", {"accept": True})
        return load

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, path: Path, max_height: int = 4000) -> Path:
        """The whole page (up to max_height CSS pixels) as a PNG."""
        metrics = self.call("Page.getLayoutMetrics")
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        clip = {"x": 0, "y": 0, "width": max(size["width"], 1), "height": min(max(size["height"], 1), max_height), "scale": 1}
        shot = self.call("Page.captureScreenshot", {"format": "png", "clip": clip, "captureBeyondViewport": True})
        Path(path).write_bytes(base64.b64decode(shot["data"]))
        return Path(path)

    def close(self) -> None:
        try:
            if getattr(self, "ws", None) is not None:
                try:
                    self.call("Browser.close")
                except Exception:  # the browser may already be going away
                    pass
                self.ws.close()
        finally:
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.terminate()  # our own child, by its handle
                try:
                    self.process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(timeout=5)
            self.log.close()
