"""A real headless Chromium for the tests, driven over the DevTools protocol on a pipe.

Chromium runs with --remote-debugging-pipe: it reads commands from file descriptor 3 and
writes answers and events to descriptor 4, JSON messages ended by a NUL byte. No browser
download, no websocket library: the Debian `chromium` package and the standard library.
`open_page` loads a file and records what a test asks about: console messages and
uncaught exceptions, every request the page makes, and the load event; `evaluate` runs
JavaScript in the page (to read its DOM and layout), `screenshot` returns a PNG and
`png_pixels` decodes it to count colours.

Tests using it are marked `browser` and skip where no Chromium is installed.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import pytest

EXECUTABLES = ("chromium", "chromium-browser", "google-chrome")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
         "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-extensions",
         "--disable-default-apps", "--mute-audio", "--hide-scrollbars")
TRAMPOLINE = ("import os, sys; os.dup2(int(sys.argv[1]), 3); os.dup2(int(sys.argv[2]), 4); "
              "os.execv(sys.argv[3], sys.argv[3:])")


def executable() -> str | None:
    return next((path for name in EXECUTABLES if (path := shutil.which(name))), None)


def require() -> str:
    """The browser's path, or skip the test saying how to get one."""
    found = executable()
    if found is None:
        pytest.skip("no Chromium installed (Debian: apt-get install chromium; .ci/run "
                    "installs it)")
    return found


class Chromium:
    def __init__(self, timeout: float = 60.0) -> None:
        exe = require()
        to_browser, self._fd_in = os.pipe()         # we write, Chromium reads fd 3
        self._fd_out, from_browser = os.pipe()      # Chromium writes fd 4, we read
        self.profile = tempfile.mkdtemp(prefix="nncli-chromium-")
        self._write = os.fdopen(self._fd_in, "wb", buffering=0)
        # A small trampoline puts the pipe ends on descriptors 3 and 4, then becomes
        # Chromium (a POSIX shell cannot name descriptors above 9).
        self.proc = subprocess.Popen(
            [sys.executable, "-c", TRAMPOLINE, str(to_browser), str(from_browser), exe,
             *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            pass_fds=(to_browser, from_browser), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_browser)
        os.close(from_browser)
        self.timeout, self._buffer, self._id, self.events = timeout, b"", 0, []
        self.session: str | None = None

    # ---- the protocol ------------------------------------------------------------------
    def send(self, method: str, params: dict | None = None, session: bool = True) -> dict:
        self._id += 1
        message = {"id": self._id, "method": method, "params": params or {}}
        if session and self.session:
            message["sessionId"] = self.session
        self._write.write(json.dumps(message).encode() + b"\0")
        answer = self.wait(lambda m, i=self._id: m.get("id") == i)
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        return answer.get("result", {})

    def wait(self, match, timeout: float | None = None) -> dict:
        for i, message in enumerate(self.events):
            if message.get("id") is None and match(message):
                return self.events.pop(i)
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            message = self._read(deadline)
            if match(message):
                return message
            self.events.append(message)

    def _read(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("Chromium did not answer in time")
            ready, _, _ = select.select([self._fd_out], [], [], left)
            if ready:
                chunk = os.read(self._fd_out, 1 << 20)
                if not chunk:
                    raise RuntimeError("Chromium closed its pipe (did it crash?)")
                self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    # ---- pages ---------------------------------------------------------------------------
    def open_page(self, path: Path, width: int = 1000, height: int = 800) -> None:
        """Load a file in a fresh tab of `width` x `height` CSS pixels (a phone when
        narrow) and wait for its load event."""
        target = self.send("Target.createTarget", {"url": "about:blank"},
                           session=False)["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target,
                                                           "flatten": True},
                                 session=False)["sessionId"]
        for domain in ("Page", "Runtime", "Network", "Log"):
            self.send(f"{domain}.enable")
        self.send("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})
        self.url = Path(path).resolve().as_uri()
        self.events.clear()
        self.send("Page.navigate", {"url": self.url})
        self.wait(lambda m: m.get("method") == "Page.loadEventFired"
                  and m.get("sessionId") == self.session)

    def evaluate(self, expression: str):
        result = self.send("Runtime.evaluate", {"expression": expression,
                                                "returnByValue": True})
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, full_page: bool = False) -> bytes:
        data = self.send("Page.captureScreenshot", {"format": "png",
                                                    "captureBeyondViewport": full_page})
        return base64.b64decode(data["data"])

    def requests(self) -> list[str]:
        """URLs the page asked for, besides itself (data: URLs are no network)."""
        return [e["params"]["request"]["url"] for e in self.events
                if e.get("method") == "Network.requestWillBeSent"
                and e["params"]["request"]["url"] != self.url
                and not e["params"]["request"]["url"].startswith("data:")]

    def console_errors(self) -> list[str]:
        """Console errors and warnings, uncaught exceptions and the browser's own log
        errors (a resource that failed, a blocked request, ...)."""
        out = []
        for e in self.events:
            method, p = e.get("method"), e.get("params", {})
            if method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "warning",
                                                                           "assert"):
                out.append(" ".join(str(a.get("value", a.get("description")))
                                    for a in p.get("args", [])))
            elif method == "Runtime.exceptionThrown":
                out.append(str(p.get("exceptionDetails")))
            elif method == "Log.entryAdded" and p["entry"]["level"] in ("error", "warning"):
                out.append(p["entry"]["text"])
        return out

    def close(self) -> None:
        try:
            self.send("Browser.close", session=False)
            self.proc.wait(10)
        except (OSError, RuntimeError, TimeoutError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        self._write.close()
        os.close(self._fd_out)
        shutil.rmtree(self.profile, ignore_errors=True)


def png_pixels(png: bytes) -> tuple[int, int, list[bytes]]:
    """(width, height, rows of RGB(A) bytes) of an 8-bit, non-interlaced PNG (what
    Chromium's screenshots are)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(png):
        length, kind = struct.unpack(">I4s", png[pos:pos + 8])
        chunk = png[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, header
    step = 3 if colour == 2 else 4
    raw, stride = zlib.decompress(idat), width * step
    rows, previous = [], bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            left = line[i - step] if i >= step else 0
            up, corner = previous[i], previous[i - step] if i >= step else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else
                                      up if pb <= pc else corner)) & 255
        rows.append(bytes(line))
        previous = line
    return width, height, rows


def colours(png: bytes, step: int = 4) -> int:
    """Distinct RGB colours in the picture (every `step`-th pixel): a blank page has 1."""
    width, _, rows = png_pixels(png)
    size = len(rows[0]) // width
    return len({row[i:i + 3] for row in rows[::step] for i in range(0, len(row), size * step)})
