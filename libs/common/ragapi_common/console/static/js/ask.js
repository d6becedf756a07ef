// Ask: streamed answers as sanitised Markdown, references, the context on demand, turns.
import { call, events, sendJson } from "./api.js";
import { $, h, showError } from "./dom.js";
import { Marked } from "../vendor/marked.esm.js";
import DOMPurify from "../vendor/purify.es.js";

let history = [];
let busy = false;

export function init() {
  $("#ask-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const question = $("#question").value.trim();
    if (question && !busy) askStreamed(question, $("#mode").value);
  });
  $("#question").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) $("#ask-form").requestSubmit();
  });
  $("#ask-new").addEventListener("click", () => {
    history = [];
    $("#turns").replaceChildren();
    $("#question").focus();
  });
}

export function show() {
  $("#question").focus();
}

function escapeHtml(text) {
  const map = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
  return text.replace(/[&<>"']/g, (c) => map[c]);
}

// Raw HTML inside an answer is shown as text; DOMPurify then removes whatever Markdown
// itself could make run (a javascript: link), so an answer never runs anything.
const markdown = new Marked({ gfm: true, renderer: { html: ({ text }) => escapeHtml(text) } });

export function renderMarkdown(target, text) {
  target.innerHTML = DOMPurify.sanitize(markdown.parse(text, { async: false }));
}

function references(list) {
  if (!list.length) return h("p", { class: "muted", text: "No references." });
  return h("ol", { class: "refs" }, list.map((ref) =>
    h("li", {}, h("strong", { class: "ref-name", text: ref.name }),
      h("blockquote", { class: "excerpt", text: ref.excerpt }))));
}

function turnView(question, mode) {
  const answer = h("div", { class: "answer", "data-state": "streaming", "data-deltas": "0" });
  const refs = h("div", { class: "references" });
  const context = h("div", { class: "context" });
  const more = h("button", { type: "button", class: "quiet", text: "Show retrieved context" });
  more.addEventListener("click", () => showContext(question, mode, context, more));
  const turn = h("article", { class: "turn" },
    h("p", { class: "question" }, h("span", { class: "muted", text: `You (${mode}): ` }), question),
    answer, h("h4", { text: "Sources" }), refs, more, context);
  $("#turns").append(turn);
  return { answer, refs };
}

async function askStreamed(question, mode) {
  busy = true;
  $("#ask-button").disabled = true;
  showError(null);
  const view = turnView(question, mode);
  let text = "";
  let deltas = 0;
  const body = { query: question, mode, stream: true, include_references: true, conversation_history: history };
  try {
    const response = await call("tenant", "POST", "/v1/query", { json: body });
    for await (const { event, data } of events(response)) {
      if (event === "references") view.refs.replaceChildren(references(data.references));
      else if (event === "delta") {
        text += data.text;
        deltas += 1;
        view.answer.dataset.deltas = String(deltas);
        renderMarkdown(view.answer, text);
      } else if (event === "error") throw new Error(`The answer stopped: ${data.error.message}`);
      else if (event === "done") view.answer.dataset.state = "done";
    }
    history = [...history, { role: "user", content: question }, { role: "assistant", content: text }];
    $("#question").value = "";
  } catch (error) {
    view.answer.dataset.state = "failed";
    showError(error);
  } finally {
    busy = false;
    $("#ask-button").disabled = false;
  }
}

async function showContext(question, mode, target, button) {
  button.disabled = true;
  try {
    const body = { query: question, mode, only_context: true, conversation_history: [] };
    const answer = await sendJson("tenant", "POST", "/v1/query", body);
    target.replaceChildren(h("h4", { text: "Retrieved context" }), h("pre", { class: "ctx", text: answer.answer }));
  } catch (error) {
    showError(error);
    button.disabled = false;
  }
}
