"""The web console in Chromium against ``ragapi up``: keys, uploads, answers, graph, admin."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import FilePayload, Page, expect

from tests.support.slowness import slowness
from tests.support.upstack import Stack

XSS_NAME = "<img src=x onerror=alert(1)>.txt"
CORPUS = {
    "curie.txt": "Marie Curie discovered Polonium in Paris. Polonium is named after Poland.",
    "tesla.txt": "Nikola Tesla built the Induction Motor in New York. Tesla knew Westinghouse.",
    "probe.txt": "The Markup Probe says <img src=x onerror=alert(2)> inside its answer.",
}


def _processed(api: httpx.Client, task_id: str) -> None:
    deadline = time.monotonic() + 120 * slowness()
    while time.monotonic() < deadline:
        task = api.get(f"/v1/tasks/{task_id}").raise_for_status().json()
        if task["status"] in ("succeeded", "failed", "partial"):
            assert task["status"] == "succeeded", task
            return
        time.sleep(0.2)
    raise AssertionError(f"task {task_id} did not end")


@pytest.fixture(scope="module")
def corpus(api: httpx.Client) -> None:
    documents = [{"text": text, "name": name} for name, text in CORPUS.items()]
    answer = api.post("/v1/documents/text", json={"documents": documents}).raise_for_status()
    _processed(api, answer.json()["task_id"])


def _open(page: Page, stack: Stack, key: str, hash_: str = "documents") -> None:
    page.goto(f"{stack.url}/console/#{hash_}")
    page.get_by_label("Tenant API key").fill(key)
    page.get_by_role("button", name="Use key").click()


def test_the_console_is_served_with_a_strict_policy(stack: Stack) -> None:
    answer = httpx.get(f"{stack.url}/console", follow_redirects=True)
    assert answer.status_code == 200
    assert answer.url.path == "/console/"
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "<script>" not in answer.text  # no inline script: only <script src>
    module = httpx.get(f"{stack.url}/console/vendor/cytoscape.esm.min.js")
    assert module.headers["content-type"].startswith("text/javascript")
    assert httpx.get(f"{stack.url}/console/nope.js").status_code == 404


def test_a_wrong_key_says_so(page: Page, stack: Stack, shots: Path) -> None:
    _open(page, stack, "not-a-key")
    expect(page.get_by_role("alert")).to_contain_text("Wrong key")
    assert "not-a-key" not in page.url
    assert page.context.cookies() == []
    page.screenshot(path=shots / "wrong-key.png")


def test_three_dropped_files_reach_processed_each_with_its_bar(
    page: Page, stack: Stack, shots: Path
) -> None:
    _open(page, stack, stack.tenant_key)
    names = ["alpha.txt", "beta.txt", "gamma.txt"]
    transfer = page.evaluate_handle(
        """(names) => {
            const data = new DataTransfer();
            for (const name of names) {
                const text = `The ${name} document tells about River Alpha and Mount Beta.`;
                data.items.add(new File([text + " " + name], name, { type: "text/plain" }));
            }
            return data;
        }""",
        names,
    )
    page.dispatch_event("#drop", "drop", {"dataTransfer": transfer})
    uploads = page.locator("#uploads li")
    expect(uploads).to_have_count(3)
    for name in names:
        row = uploads.filter(has_text=name)
        expect(row).to_have_attribute("data-status", "processed")
        expect(row.locator("progress")).to_have_js_property("value", 100)
    table = page.locator("#docs-table tbody")
    for name in names:
        expect(table.locator("tr", has_text=name)).to_have_attribute("data-status", "processed")
    page.screenshot(path=shots / "documents.png", full_page=True)


def test_an_html_file_name_is_shown_and_never_run(page: Page, stack: Stack) -> None:
    _open(page, stack, stack.tenant_key)
    payload = FilePayload(name=XSS_NAME, mimeType="text/plain", buffer=b"Nothing Runs here.")
    page.locator("#file-input").set_input_files([payload])
    row = page.locator("#uploads li").filter(has_text=XSS_NAME)
    expect(row).to_have_attribute("data-status", "processed")
    cell = page.locator("#docs-table td.name", has_text=XSS_NAME)
    expect(cell).to_have_text(XSS_NAME)
    assert page.locator("#uploads img, #docs-table img").count() == 0
    # The page fixture fails the test if alert(1) opened a dialog.


def test_an_answer_streams_as_markdown_with_the_right_reference(
    page: Page, stack: Stack, corpus: None, shots: Path
) -> None:
    _open(page, stack, stack.tenant_key, "ask")
    page.get_by_label("Mode").select_option("naive")
    page.get_by_label("Question").fill("Who discovered Polonium in Paris?")
    page.get_by_role("button", name="Ask", exact=True).click()
    answer = page.locator(".turn .answer").last
    expect(answer).to_have_attribute("data-state", "done")
    assert int(answer.get_attribute("data-deltas") or 0) >= 1
    expect(answer).to_contain_text("Polonium")
    expect(answer.locator("p").first).to_be_visible()  # Markdown rendered as HTML
    first_reference = page.locator(".turn").last.locator(".ref-name").first
    expect(first_reference).to_have_text("curie.txt")
    page.get_by_role("button", name="Show retrieved context").last.click()
    expect(page.locator(".turn").last.locator("pre.ctx")).to_contain_text("Polonium")
    page.screenshot(path=shots / "ask.png", full_page=True)


def test_html_in_an_answer_is_shown_and_never_run(page: Page, stack: Stack, corpus: None) -> None:
    _open(page, stack, stack.tenant_key, "ask")
    page.get_by_label("Mode").select_option("naive")
    page.get_by_label("Question").fill("What does the Markup Probe say?")
    page.get_by_role("button", name="Ask", exact=True).click()
    answer = page.locator(".turn .answer").last
    expect(answer).to_have_attribute("data-state", "done")
    expect(page.locator(".turn .ref-name").first).to_have_text("probe.txt")
    expect(answer).to_contain_text("<img src=x onerror=alert(2)>")  # shown as text
    assert answer.locator("img, script, [onerror]").count() == 0


def test_the_graph_draws_nodes_and_details(
    page: Page, stack: Stack, corpus: None, shots: Path
) -> None:
    _open(page, stack, stack.tenant_key, "graph")
    graph = page.locator("#graph")
    expect(graph).to_have_attribute("data-nodes", re.compile(r"^[1-9]\d*$"))
    expect(page.locator("#graph-count")).to_contain_text("nodes")
    assert page.locator("#graph canvas").count() >= 1
    page.get_by_label("Find in graph").fill("Marie Curie")
    page.get_by_role("button", name="Find").click()
    expect(page.locator("#graph-details .detail-title")).to_have_text("Marie Curie")
    expect(page.locator("#graph-details")).to_contain_text("curie.txt")
    page.screenshot(path=shots / "graph.png")
    # Around one label, one hop; then a neighbour's neighbours are added to the drawing.
    page.get_by_label("Around").fill("Nikola Tesla")
    page.get_by_label("Depth").fill("1")
    page.get_by_role("button", name="Load").click()
    new_york = page.locator('#graph-names option[value="New York"]')
    expect(page.locator('#graph-names option[value="Induction Motor"]')).to_have_count(1)
    expect(new_york).to_have_count(0)
    before = int(graph.get_attribute("data-nodes") or 0)
    page.get_by_label("Find in graph").fill("Induction Motor")
    page.get_by_role("button", name="Find").click()
    page.get_by_role("button", name="Expand neighbours").click()
    expect(new_york).to_have_count(1)
    assert int(graph.get_attribute("data-nodes") or 0) > before


def test_the_admin_page_creates_a_tenant_and_revokes_a_key(
    page: Page, stack: Stack, shots: Path
) -> None:
    page.goto(f"{stack.url}/console/#admin")
    page.get_by_label("Admin token").fill(stack.admin_token)
    page.get_by_role("button", name="Use token").click()
    expect(page.locator("#tenants [data-tenant=default]")).to_be_visible()
    page.get_by_label("Tenant id").fill("console-made")
    page.get_by_label("Tenant name").fill("Made in the console")
    page.get_by_role("button", name="Create tenant").click()
    expect(page.locator("#tenant-title")).to_have_text("Tenant console-made")
    first_key = page.locator(".secret-value").input_value()
    assert httpx.get(f"{stack.url}/v1/documents", headers=_bearer(first_key)).status_code == 200
    keys = page.locator("#keys li")
    expect(keys).to_have_count(1)
    page.get_by_role("button", name="Create key").click()
    expect(keys).to_have_count(2)
    _edit_config_keeping_the_secret(page)
    page.screenshot(path=shots / "admin.png", full_page=True)
    keys.first.get_by_role("button", name="Revoke").click()
    page.locator("#confirm-ok").click()
    expect(keys).to_have_count(1)
    _until_refused(stack, first_key)


def test_a_phone_width_needs_no_sideways_scrolling(page: Page, stack: Stack, shots: Path) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    _open(page, stack, stack.tenant_key)
    expect(page.get_by_role("link", name="Graph")).to_be_visible()
    expect(page.locator("#docs-page")).to_have_text("page 1")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    page.screenshot(path=shots / "phone.png", full_page=True)


def _edit_config_keeping_the_secret(page: Page) -> None:
    """A secret typed in is answered masked; saving again leaves it out of the PATCH (the
    mask sent back would overwrite the real secret)."""
    config = page.get_by_label("Config", exact=False)
    config.fill('{"llm": {"api_key": "sk-console-secret-9876", "timeout_s": 30}}')
    page.get_by_role("button", name="Save").click()
    expect(config).to_have_value(re.compile(r"\.\.\.9876"))  # the answer, masked
    assert "sk-console-secret-9876" not in config.input_value()
    with page.expect_request(lambda r: r.method == "PATCH") as patched:
        page.get_by_label("Name", exact=True).fill("Renamed in the console")
        page.get_by_role("button", name="Save").click()
    body = patched.value.post_data_json
    assert body["name"] == "Renamed in the console"
    assert body["config"] == {"llm": {"timeout_s": 30}}
    expect(page.locator("#tenants")).to_contain_text("Renamed in the console")


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _until_refused(stack: Stack, key: str) -> None:
    deadline = time.monotonic() + 10 * slowness()
    while time.monotonic() < deadline:
        if httpx.get(f"{stack.url}/v1/documents", headers=_bearer(key)).status_code == 401:
            return
        time.sleep(0.1)
    raise AssertionError("the revoked key still works")


def test_pages_of_documents_follow_the_cursor(page: Page, stack: Stack, api: httpx.Client) -> None:
    documents = [
        {"text": f"Page Filler {i} is short.", "name": f"filler-{i:02}.txt"} for i in range(12)
    ]
    answer = api.post("/v1/documents/text", json={"documents": documents}).raise_for_status()
    _processed(api, answer.json()["task_id"])
    listed = api.get("/v1/documents", params={"status": "processed", "limit": 500}).json()
    total = len(listed["documents"])
    assert total >= 12
    assert listed["next_cursor"] is None
    _open(page, stack, stack.tenant_key)
    page.get_by_label("Status").select_option("processed")
    page.get_by_label("Per page").select_option("10")
    rows = page.locator("#docs-table tbody tr")
    expect(rows).to_have_count(10)
    first_page = rows.first.get_attribute("data-doc")
    page.get_by_role("button", name="Next page").click()
    expect(page.locator("#docs-page")).to_have_text("page 2")
    expect(rows).to_have_count(min(total - 10, 10))
    assert rows.first.get_attribute("data-doc") != first_page
    page.get_by_role("button", name="Previous page").click()
    expect(page.locator("#docs-page")).to_have_text("page 1")
    expect(rows.first).to_have_attribute("data-doc", first_page or "")


def test_a_refused_upload_says_why_on_its_bar(page: Page, stack: Stack) -> None:
    _open(page, stack, stack.tenant_key)
    payload = FilePayload(
        name="tool.exe", mimeType="application/octet-stream", buffer=b"MZ\x90\x00" * 64
    )
    page.locator("#file-input").set_input_files([payload])
    row = page.locator("#uploads li").filter(has_text="tool.exe")
    expect(row).to_have_attribute("data-status", "failed")
    expect(row).to_contain_text("not supported")


def test_a_graph_of_2000_nodes_is_drawn(page: Page, stack: Stack, shots: Path) -> None:
    """The console's side of a big graph (the API's answer is made here): 2 000 nodes and
    3 000 edges drawn, with the WebGL renderer where the browser has WebGL 2."""
    nodes = [
        {"id": f"Entity {i}", "labels": [f"Entity {i}"], "properties": {}} for i in range(2000)
    ]
    edges = [
        {
            "id": f"{i}-{j}",
            "type": "related",
            "source": f"Entity {i}",
            "target": f"Entity {j}",
            "properties": {},
        }
        for i in range(2000)
        for j in ((i * 7 + 1) % 2000, (i * 13 + 5) % 2000)
        if i != j
    ][:3000]
    body = json.dumps({"nodes": nodes, "edges": edges})
    page.route(
        "**/v1/graph?*", lambda route: route.fulfill(body=body, content_type="application/json")
    )
    _open(page, stack, stack.tenant_key, "graph")
    graph = page.locator("#graph")
    expect(graph).to_have_attribute("data-nodes", "2000")
    expect(graph).to_have_attribute("data-draw-ms", re.compile(r"^\d+$"))
    took, renderer = graph.get_attribute("data-draw-ms"), graph.get_attribute("data-renderer")
    print(f"2000 nodes drawn in {took} ms ({renderer})")
    page.mouse.move(400, 500)
    page.mouse.wheel(0, -600)  # zoom in: still answers
    page.get_by_label("Find in graph").fill("Entity 1999")
    page.get_by_role("button", name="Find").click()
    expect(page.locator("#graph-details .detail-title")).to_have_text("Entity 1999")
    page.screenshot(path=shots / "graph-2000.png")


def test_api_errors_are_said_in_words(page: Page, stack: Stack) -> None:
    page.goto(f"{stack.url}/console/")
    said = page.evaluate(
        """async () => {
            const { explain } = await import("./js/api.js");
            const invalid = { error: { message: "invalid fields",
                details: [{ loc: ["body", "query"], msg: "Field required" }] } };
            return [explain(429, null, "7"), explain(503, null, "2"), explain(422, invalid, null),
                    explain(413, { error: { message: "over 10 MB" } }, null)];
        }"""
    )
    assert said[0] == "Too many requests. Wait 7 s and try again."
    assert said[1] == "A service the API needs is down for now. Wait 2 s and try again."
    assert "body.query: Field required" in said[2]
    assert "over 10 MB" in said[3]


def test_no_key_reaches_the_logs(stack: Stack) -> None:
    """After every test above: the keys typed into the console are in no log line."""
    logs = stack.log.read_text() + (stack.log.parent / "provider.log").read_text()
    assert stack.tenant_key not in logs
    assert stack.admin_token not in logs


def test_the_keyboard_uploads_and_deletes_with_a_confirmation(page: Page, stack: Stack) -> None:
    _open(page, stack, stack.tenant_key)
    expect(page.locator("#docs-page")).to_have_text("page 1")  # the key is in use
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Choose files").press("Enter")
    chooser.value.set_files(
        [FilePayload(name="keyed.txt", mimeType="text/plain", buffer=b"Typed Upload here.")]
    )
    row = page.locator("#docs-table tbody tr", has_text="keyed.txt")
    expect(row).to_have_attribute("data-status", "processed")
    delete = row.get_by_role("button", name="Delete keyed.txt")
    delete.focus()
    page.keyboard.press("Enter")
    dialog = page.locator("#confirm")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text('Delete "keyed.txt"?')
    page.keyboard.press("Escape")  # cancelled: nothing happens
    expect(dialog).to_be_hidden()
    expect(row).to_have_attribute("data-status", "processed")
    delete.click()
    page.get_by_role("button", name="Confirm").click()
    expect(row).to_have_count(0)


def test_without_a_key_the_console_asks_for_one(page: Page, stack: Stack) -> None:
    with page.expect_response(re.compile(r"/console/js/main\.js$")):
        page.goto(f"{stack.url}/console/#ask")
    expect(page.get_by_role("alert")).to_have_text("Enter the tenant's API key above to start.")
    expect(page.get_by_label("Tenant API key")).to_be_focused()


def test_a_failed_document_shows_its_reason(page: Page, stack: Stack) -> None:
    _open(page, stack, stack.tenant_key)
    broken = b"%PDF-1.7\n" + b"\x00 not a pdf body " * 64
    payload = FilePayload(name="broken.pdf", mimeType="application/pdf", buffer=broken)
    page.locator("#file-input").set_input_files([payload])
    bar = page.locator("#uploads li").filter(has_text="broken.pdf")
    expect(bar).to_have_attribute("data-status", "failed")
    page.get_by_label("Status").select_option("failed")
    row = page.locator("#docs-table tbody tr", has_text="broken.pdf")
    expect(row).to_have_attribute("data-status", "failed")
    reason = row.locator(".reason")
    expect(reason).not_to_be_empty()
    expect(bar).to_contain_text(reason.inner_text())
