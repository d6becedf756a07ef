// Documents: drag-and-drop uploads with a bar per file, the list with filters and pages.
import { call, events, getJson, upload } from "./api.js";
import { $, bytes, confirmAction, h, showError, when } from "./dom.js";

const PARALLEL = 3; // uploads + task streams at once: browsers allow 6 connections per origin
const FINAL = new Set(["processed", "failed"]);
const STEP = { queued: 55, parsing: 65, indexing: 80, processed: 100, failed: 100, deleting: 100 };

const queue = [];
let running = 0;
let cursors = [null]; // the cursor of each page seen; the last is the current page's
let refreshTimer = null;

export function init() {
  const drop = $("#drop");
  drop.addEventListener("dragover", (e) => {
    e.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    enqueue(e.dataTransfer.files);
  });
  $("#choose").addEventListener("click", () => $("#file-input").click());
  $("#file-input").addEventListener("change", (e) => {
    enqueue(e.target.files);
    e.target.value = "";
  });
  for (const filter of ["#status-filter", "#page-size"]) {
    $(filter).addEventListener("change", () => {
      cursors = [null];
      load();
    });
  }
  $("#docs-refresh").addEventListener("click", () => load());
  $("#docs-next").addEventListener("click", () => {
    const next = $("#docs-next").dataset.cursor;
    if (next) {
      cursors.push(next);
      load();
    }
  });
  $("#docs-prev").addEventListener("click", () => {
    if (cursors.length > 1) {
      cursors.pop();
      load();
    }
  });
}

export function show() {
  load();
}

// --- uploads -------------------------------------------------------------------------
function enqueue(fileList) {
  for (const file of fileList) {
    const bar = h("progress", { max: 100, value: 0, "aria-label": `Progress of ${file.name}` });
    const state = h("span", { class: "state", text: "waiting" });
    const row = h("li", { class: "upload" }, h("span", { class: "name", text: file.name }), bar, state);
    $("#uploads").append(row);
    queue.push({ file, bar, state, row });
  }
  pump();
}

function pump() {
  while (running < PARALLEL && queue.length) {
    running += 1;
    const item = queue.shift();
    track(item).finally(() => {
      running -= 1;
      pump();
      load();
    });
  }
}

function mark(item, status, error) {
  item.bar.value = STEP[status] ?? item.bar.value;
  item.row.dataset.status = status;
  item.state.textContent = error ? `${status}: ${error}` : status;
}

async function track(item) {
  try {
    const accepted = await upload(item.file, (part) => {
      item.bar.value = Math.round(part * 50);
      item.state.textContent = `uploading ${Math.round(part * 100)} %`;
    });
    const doc = accepted.documents[0];
    mark(item, doc.status, doc.error);
    if (!FINAL.has(doc.status)) await follow(item, accepted.task_id, doc.doc_id);
  } catch (error) {
    item.row.dataset.status = "failed";
    item.bar.value = 100;
    item.state.textContent = error.message;
  }
}

async function follow(item, taskId, docId) {
  const response = await call("tenant", "GET", `/v1/tasks/${encodeURIComponent(taskId)}/events`);
  for await (const { event, data } of events(response)) {
    const docs = data.documents || (data.doc_id ? [data] : []);
    for (const doc of docs) if (doc.doc_id === docId) mark(item, doc.status, doc.error);
    if (event === "done" || FINAL.has(item.row.dataset.status)) return;
  }
}

// --- the list ------------------------------------------------------------------------
async function load() {
  clearTimeout(refreshTimer);
  if ($("#page-documents").hidden) return;
  const params = new URLSearchParams({ limit: $("#page-size").value });
  const status = $("#status-filter").value;
  if (status) params.set("status", status);
  const cursor = cursors[cursors.length - 1];
  if (cursor) params.set("cursor", cursor);
  let page;
  try {
    page = await getJson("tenant", `/v1/documents?${params}`);
  } catch (error) {
    showError(error);
    $("#docs-prev").disabled = $("#docs-next").disabled = true;
    return;
  }
  showError(null);
  render(page);
  const busy = running > 0 || page.documents.some((d) => !FINAL.has(d.status));
  if (busy) refreshTimer = setTimeout(load, 2000);
}

function render(page) {
  const rows = page.documents.map((doc) => {
    const status = h("td", {}, h("span", { class: `badge ${doc.status}`, text: doc.status }));
    if (doc.error) status.append(h("div", { class: "reason", text: doc.error }));
    if (doc.warning) status.append(h("div", { class: "warning", text: doc.warning }));
    const remove = h("button", {
      type: "button",
      class: "quiet",
      text: "Delete",
      "aria-label": `Delete ${doc.name}`,
      onclick: () => remove_(doc),
    });
    return h("tr", { "data-doc": doc.doc_id, "data-status": doc.status },
      h("td", { class: "name", text: doc.name }), status,
      h("td", { text: bytes(doc.size) }), h("td", { text: when(doc.updated_at) }), h("td", {}, remove));
  });
  $("#docs-table tbody").replaceChildren(...rows);
  $("#docs-count").textContent = `${page.documents.length} on this page`;
  $("#docs-page").textContent = `page ${cursors.length}`;
  $("#docs-prev").disabled = cursors.length <= 1;
  $("#docs-next").disabled = !page.next_cursor;
  $("#docs-next").dataset.cursor = page.next_cursor || "";
}

async function remove_(doc) {
  if (!(await confirmAction(`Delete "${doc.name}"? Its chunks and graph entries go too.`))) return;
  try {
    await call("tenant", "DELETE", `/v1/documents/${encodeURIComponent(doc.doc_id)}`);
  } catch (error) {
    showError(error);
  }
  load();
}
