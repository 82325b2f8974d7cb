"""A real headless browser for the tests: Debian's chromium driven over the DevTools protocol on a
pipe (``--remote-debugging-pipe``: no port, no network, no package beyond the browser).

:func:`inspect_page` loads a file, waits for its load event and every image's decoding, and
returns what the page holds and every console error or exception it raised.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

#: where .ci/run installs it (Debian's package chromium)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--remote-debugging-pipe"]  # fmt: skip

#: what the page is asked once loaded: its images decoded, its sections and tables
PROBE = """(async () => {
  const images = Array.from(document.images);
  const decoded = await Promise.all(images.map(i => i.decode().then(() => i.naturalWidth > 0, () => false)));
  const tables = Array.from(document.querySelectorAll('table'));
  return {title: document.title, images: images.length, decoded: decoded.filter(Boolean).length,
          sections: Array.from(document.querySelectorAll('section')).map(s => [s.id, s.innerText.trim().length]),
          tables: tables.length, empty_tables: tables.filter(t => t.querySelectorAll('tbody tr').length === 0).length};
})()"""


class _Pipe:
    """Messages to and from the browser: JSON, each ended by a NUL byte."""

    def __init__(self, write_fd: int, read_fd: int) -> None:
        self.write_fd, self.read_fd, self.buffer, self.next_id = write_fd, read_fd, b"", 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> int:
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.write_fd, json.dumps(message).encode() + b"\0")
        return self.next_id

    def receive(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self.buffer:
            if time.monotonic() > deadline:
                raise TimeoutError("the browser did not answer in time")
            chunk = os.read(self.read_fd, 1 << 16)
            if not chunk:
                raise RuntimeError("the browser closed its pipe")
            self.buffer += chunk
        raw, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None, timeout: float = 30) -> dict[str, Any]:
        wanted, deadline = self.send(method, params, session), time.monotonic() + timeout
        while True:
            message = self.receive(deadline)
            if message.get("id") == wanted:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, event: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == event for e in self.events):
            self.events.append(self.receive(deadline))


def inspect_page(path: Path, timeout: float = 60) -> dict[str, Any]:
    """Load ``path`` in headless chromium; the probe's answer and ``errors``: console errors,
    uncaught exceptions and error log entries (a resource that failed, say)."""
    if CHROMIUM is None:
        raise RuntimeError("chromium is not installed (Debian: apt-get install chromium)")
    to_browser, from_browser = os.pipe(), os.pipe()

    def pipes() -> None:  # the browser reads commands on fd 3 and writes answers on fd 4
        read, write = os.dup(to_browser[0]), os.dup(from_browser[1])  # out of the way of 3 and 4 first
        os.dup2(read, 3)
        os.dup2(write, 4)

    # the profile outlives the call until every process of the browser is gone: its helpers (zygote,
    # GPU, network) write there after the main process exits, and a removal that races them fails
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile:
        proc = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"], preexec_fn=pipes,
                                pass_fds=(3, 4), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)  # fmt: skip
        os.close(to_browser[0])
        os.close(from_browser[1])
        pipe = _Pipe(to_browser[1], from_browser[0])
        try:
            target = pipe.call("Target.createTarget", {"url": "about:blank"}, timeout=timeout)["targetId"]
            session = pipe.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Runtime", "Log", "Page"):
                pipe.call(f"{domain}.enable", session=session)
            pipe.call("Page.navigate", {"url": path.resolve().as_uri()}, session=session)
            pipe.wait_for("Page.loadEventFired", timeout)
            answer = pipe.call("Runtime.evaluate", {"expression": PROBE, "awaitPromise": True, "returnByValue": True},
                               session=session, timeout=timeout)  # fmt: skip
            result = answer["result"].get("value") or {}
            errors = [e["params"] for e in pipe.events if e.get("method") == "Runtime.exceptionThrown"
                      or (e.get("method") == "Runtime.consoleAPICalled" and e["params"].get("type") == "error")
                      or (e.get("method") == "Log.entryAdded" and e["params"]["entry"].get("level") == "error")]  # fmt: skip
            try:
                pipe.call("Browser.close", timeout=10)
            except (RuntimeError, TimeoutError):
                pass
            return {**result, "errors": errors}
        finally:
            os.close(to_browser[1])
            os.close(from_browser[0])
            _stop_group(proc)


def _stop_group(proc: subprocess.Popen) -> None:
    """Kill the browser and every helper it started (its own session), and wait until none is left."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)  # raises once no process of the group is left
        except ProcessLookupError:
            return
        time.sleep(0.05)
