"""The dashboard in a real headless Chromium (Debian's ``chromium`` + ``chromium-driver``, driven by
selenium) against a real ``mcp-central serve`` process: login, live upstream states, recent calls,
a killed upstream, and the screenshot in ``docs/dashboard.png``.

Every Chromium process the test starts is accounted for: after ``quit()`` none may survive.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from browser import chromium
from conftest import FIXTURE_SERVER, free_port, mcp_client, running_gateway

SCREENSHOT = Path(__file__).parent.parent / "docs" / "dashboard.png"
"""Rewritten only with ``MCP_CENTRAL_UPDATE_SCREENSHOTS=1`` (else the test's own folder gets the
picture), so a test run leaves the checkout as it found it."""
TOKEN = "dashboard-admin-token"
T = TypeVar("T")


def wait_for(what: str, probe: Callable[[], T | None], seconds: float = 20.0) -> T:
    """Poll ``probe`` until it returns something truthy, or fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            value = probe()
        except StaleElementReferenceException:  # the page redrew between finding and reading
            value = None
        if value:
            return value
        assert time.monotonic() < deadline, f"not seen within {seconds:g} s: {what}"
        time.sleep(0.05)


def row_state(driver: WebDriver, server: str) -> str | None:
    rows = driver.find_elements(By.CSS_SELECTOR, f'#upstreams tr[data-server="{server}"]')
    return rows[0].get_attribute("data-state") if rows else None


def recent_tools(driver: WebDriver) -> list[str]:
    return [cell.text for cell in driver.find_elements(By.CSS_SELECTOR, "#recent tr[data-call] td.tool")]


def write_config(path: Path, port: int) -> None:
    python = sys.executable
    config: dict[str, Any] = {
        "mcpProxy": {
            "addr": f"127.0.0.1:{port}",
            "name": "mcp-central (dashboard test)",
            "options": {"authTokens": [TOKEN]},
        },
        "mcpServers": {
            "demo": {"command": python, "args": ["-m", "mcp_central.demo"]},
            # Restarted only after a minute: the test sees its row stay 'restarting'.
            "fixture": {
                "command": python,
                "args": [str(FIXTURE_SERVER), "--transport", "stdio", "--name", "fixture"],
                "restart": {"initialDelay": "60s", "maxDelay": "60s"},
            },
        },
    }
    path.write_text(json.dumps(config))


async def call_tools(base: str, calls: list[tuple[str, str, dict[str, Any]]]) -> list[Any]:
    results = []
    for server, tool, arguments in calls:
        async with mcp_client(f"{base}/{server}/mcp", "streamable-http", TOKEN) as client:
            results.append(await client.call_tool(tool, arguments))
    return results


def test_dashboard_in_chromium(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = tmp_path / "config.json"
    write_config(config, port)
    with (
        running_gateway(["serve", "--config", str(config)], port, ready="/readyz"),
        chromium(tmp_path / "profile") as driver,
    ):
        # Without a token: the login form only, and the data endpoint refuses.
        assert httpx.get(f"{base}/ui/api/state", timeout=10).status_code == 401
        driver.get(f"{base}/ui")
        assert driver.current_url == f"{base}/ui/"
        login = driver.find_element(By.ID, "login")
        wait_for("the login form", login.is_displayed)
        dashboard = driver.find_element(By.ID, "dashboard")
        assert not dashboard.is_displayed() and dashboard.get_attribute("innerHTML") == ""
        assert "demo" not in driver.page_source and "fixture" not in driver.page_source

        # A wrong token is refused and stored nowhere; the right one opens the dashboard.
        driver.find_element(By.ID, "token").send_keys("not-the-token")
        driver.find_element(By.CSS_SELECTOR, "#login button").click()
        wait_for("the refusal", lambda: "not accepted" in driver.find_element(By.ID, "login-error").text)
        assert driver.execute_script("return sessionStorage.length") == 0
        field = driver.find_element(By.ID, "token")
        field.clear()
        field.send_keys(TOKEN)
        driver.find_element(By.CSS_SELECTOR, "#login button").click()
        wait_for("the demo upstream ready", lambda: row_state(driver, "demo") == "ready")
        wait_for("the fixture upstream ready", lambda: row_state(driver, "fixture") == "ready")
        assert not driver.find_element(By.ID, "login").is_displayed()
        assert driver.execute_script("return sessionStorage.getItem('mcp-central-token')") == TOKEN

        # A call made now shows in "recent calls" within 3 s, without its arguments.
        assert "echo" not in recent_tools(driver)
        asyncio.run(call_tools(base, [("demo", "echo", {"text": "argument-not-shown"})]))
        wait_for("the echo call in recent calls", lambda: "echo" in recent_tools(driver), seconds=3.0)
        assert "argument-not-shown" not in driver.page_source

        # A reload keeps the session: the token is in this tab's storage.
        driver.refresh()
        wait_for("the dashboard after a reload", lambda: row_state(driver, "demo") == "ready")

        # Killing the fixture's process turns its row to restarting (it retries only after 60 s).
        more = [("demo", "add", {"a": n, "b": 1}) for n in range(12)]
        more += [("demo", "add", {"a": "x", "b": 1}), ("fixture", "slow", {"seconds": 0.2})]
        results = asyncio.run(call_tools(base, [*more, ("fixture", "pid", {})]))
        pid = int(results[-1].content[0].text)
        os.kill(pid, signal.SIGKILL)
        state = wait_for(
            "the fixture row failed or restarting",
            lambda: (state := row_state(driver, "fixture")) in ("restarting", "failed") and state,
        )
        assert state in ("restarting", "failed")
        error = driver.find_element(By.CSS_SELECTOR, '#upstreams tr[data-server="fixture"] td.error').text
        assert "signal 9" in error
        assert row_state(driver, "demo") == "ready"
        wait_for(
            "an error call listed", lambda: driver.find_elements(By.CSS_SELECTOR, '[data-outcome="error"]')
        )
        wait_for("a chart per server", lambda: len(driver.find_elements(By.CSS_SELECTOR, ".chart")) == 2)

        # The page keeps its own policy: nothing inline, nothing foreign, no script errors.
        logs = driver.get_log("browser")
        problems = [
            entry["message"]
            for entry in logs
            if entry["level"] == "SEVERE" and "api/state" not in entry["message"]
        ]
        assert not problems, problems
        assert not [entry for entry in logs if "Content Security Policy" in entry["message"]]

        picture = (
            SCREENSHOT if os.environ.get("MCP_CENTRAL_UPDATE_SCREENSHOTS") else tmp_path / SCREENSHOT.name
        )
        assert driver.save_screenshot(str(picture))
        assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
