// The console's shell: the key form, the pages behind #hash links, CSP violations counted.
import { getKey, setKey } from "./api.js";
import { $, showError } from "./dom.js";
import * as documents from "./documents.js";
import * as ask from "./ask.js";
import * as graph from "./graph.js";
import * as admin from "./admin.js";

const PAGES = { documents, ask, graph, admin };
let violations = 0;
document.addEventListener("securitypolicyviolation", (event) => {
  violations += 1;
  document.body.dataset.cspViolations = String(violations);
  document.body.dataset.cspLast = `${event.effectiveDirective} ${event.blockedURI}`;
});

function keyState() {
  $("#key-state").textContent = getKey("tenant") ? "key set for this tab" : "no key yet";
}

function route() {
  const name = location.hash.slice(1) in PAGES ? location.hash.slice(1) : "documents";
  for (const link of document.querySelectorAll("nav a")) {
    if (link.dataset.page === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  for (const page of Object.keys(PAGES)) $(`#page-${page}`).hidden = page !== name;
  $("#key-form").hidden = name === "admin";
  showError(null);
  if (name !== "admin" && !getKey("tenant")) {
    showError(new Error("Enter the tenant's API key above to start."));
    $("#key-input").focus();
    return;
  }
  PAGES[name].show();
}

function start() {
  document.body.dataset.cspViolations = "0";
  for (const page of Object.values(PAGES)) page.init();
  $("#key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    setKey("tenant", $("#key-input").value.trim());
    $("#key-input").value = "";
    keyState();
    route();
  });
  $("#key-forget").addEventListener("click", () => {
    setKey("tenant", "");
    keyState();
  });
  keyState();
  window.addEventListener("hashchange", route);
  route();
}

start();
