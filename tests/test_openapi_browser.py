"""The docs page in a real browser: headless Chromium (Debian's ``chromium`` and ``chromedriver``)
opens /openapi/{server}/docs of a route that takes a token, enters the token, sees the tools,
executes a call from the page and reads its result. No CDN: every asset comes from the gateway.
Chromium is quit at the end, and no process of it may survive."""

from __future__ import annotations

import tempfile
from pathlib import Path

import anyio
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from browser import chromium
from conftest import make_config, serve
from test_openapi import schema_stdio

pytestmark = pytest.mark.anyio

TOKEN = "browser-token"


def execute_a_call_from_the_docs_page(url: str) -> dict[str, str]:
    with (
        tempfile.TemporaryDirectory(prefix="mcp-central-chromium-") as profile,
        chromium(Path(profile), window="1280,2000") as driver,
    ):
        wait = WebDriverWait(driver, 30)
        driver.get(url)
        # Without a token the document is refused (the tools are not shown).
        wait.until(expected_conditions.presence_of_element_located((By.ID, "token")))
        wait.until(lambda d: "401" in d.page_source or "Unauthorized" in d.page_source)
        assert not driver.find_elements(By.ID, "operations-tools-paint")
        driver.find_element(By.ID, "token").send_keys(TOKEN)
        driver.find_element(By.ID, "use-token").click()
        operation = wait.until(
            expected_conditions.element_to_be_clickable(
                (By.CSS_SELECTOR, "#operations-tools-paint .opblock-summary")
            )
        )
        # Swagger's Authorize dialog holds the token too (the document's bearerAuth scheme).
        driver.find_element(By.CSS_SELECTOR, ".auth-wrapper .authorize").click()
        dialog = wait.until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".modal-ux")))
        authorized = "Logout" in dialog.text
        driver.find_element(By.CSS_SELECTOR, ".modal-ux .close-modal").click()

        operation.click()
        wait.until(
            expected_conditions.element_to_be_clickable(
                (By.CSS_SELECTOR, "#operations-tools-paint .try-out__btn")
            )
        ).click()
        body = wait.until(
            expected_conditions.presence_of_element_located(
                (By.CSS_SELECTOR, "#operations-tools-paint textarea")
            )
        )
        body.clear()
        body.send_keys('{"color": "green", "note": "from the browser"}')
        driver.find_element(By.CSS_SELECTOR, "#operations-tools-paint .execute").click()
        status = wait.until(
            expected_conditions.presence_of_element_located(
                (
                    By.CSS_SELECTOR,
                    "#operations-tools-paint .live-responses-table .response .response-col_status",
                )
            )
        )
        result = driver.find_element(
            By.CSS_SELECTOR, "#operations-tools-paint .live-responses-table .response .microlight"
        )
        # Everything the page loaded came from the gateway itself.
        resources = driver.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name).concat([location.href])"
        )
        return {
            "status": status.text.strip(),
            "result": result.text,
            "authorized": str(authorized),
            "foreign": ",".join(r for r in resources if not r.startswith(url.split("/openapi")[0])),
        }


async def test_the_docs_page_executes_a_call_with_the_token() -> None:
    config = make_config(schema_stdio(auth_tokens=(TOKEN,)), tokens=(TOKEN,))
    async with serve(config) as (base, _app):
        seen = await anyio.to_thread.run_sync(
            execute_a_call_from_the_docs_page, f"{base}/openapi/schemas/docs"
        )
    assert seen["status"] == "200"
    assert "green stroke of size 1 (from the browser)" in seen["result"]
    assert seen["authorized"] == "True"
    assert seen["foreign"] == ""
