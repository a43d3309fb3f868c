"""Debian's headless Chromium under chromedriver, for the tests of what a browser shows.

``chromium(profile)`` starts it with a fresh profile folder and the flags this machine needs (no
sandbox as root; no background networking, which the closed network would refuse many times a
second), and on exit quits it and checks by PID that no process of its tree survived (survivors
are killed and fail the test). `make test` installs the packages (`.ci/system-packages`).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def _children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry))
    return children


def descendants(pid: int) -> set[int]:
    children, found, todo = _children(), set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@contextmanager
def chromium(profile: Path, window: str = "1280,1180") -> Iterator[WebDriver]:
    """A headless Chromium (its browser log kept) in ``profile``; quit and checked on exit."""
    assert os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER), (
        "run `make test`: it installs Debian's chromium and chromium-driver"
    )
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--window-size={window}", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(CHROMEDRIVER)
    driver = webdriver.Chrome(service=service, options=options)
    assert service.process is not None
    driver_pid = service.process.pid
    try:
        yield driver
    finally:
        family = {driver_pid, *descendants(driver_pid)}
        assert len(family) > 1, "chromedriver started no browser"
        driver.quit()
        deadline = time.monotonic() + 20
        while (left := [pid for pid in family if alive(pid)]) and time.monotonic() < deadline:
            time.sleep(0.1)  # quit() has asked; the processes take a moment to exit
        for pid in left:
            os.kill(pid, signal.SIGKILL)
        assert not left, f"chromium processes survived quit(): {left}"
