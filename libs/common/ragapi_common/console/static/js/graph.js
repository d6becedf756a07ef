// Graph: the tenant's knowledge graph drawn by cytoscape.js (its WebGL renderer when the
// browser has WebGL 2), with details on click, search by name and neighbour expansion.
import cytoscape from "../vendor/cytoscape.esm.min.js";
import { getJson } from "./api.js";
import { $, h, showError } from "./dom.js";

const FORCE_LAYOUT_MAX = 300; // above: a concentric layout by degree (fast at 2 000 nodes)
let cy = null;

export function init() {
  $("#graph-form").addEventListener("submit", (event) => {
    event.preventDefault();
    load();
  });
  $("#graph-search").addEventListener("submit", (event) => {
    event.preventDefault();
    find($("#graph-find").value.trim());
  });
  $("#graph-fit").addEventListener("click", () => cy && cy.fit(undefined, 30));
}

export function show() {
  if (!cy) load();
}

function webgl() {
  try {
    return Boolean(document.createElement("canvas").getContext("webgl2"));
  } catch {
    return false;
  }
}

function elements(graph) {
  const degree = new Map(graph.nodes.map((n) => [n.id, 0]));
  const edges = graph.edges
    .filter((e) => degree.has(e.source) && degree.has(e.target))
    .map((e) => {
      degree.set(e.source, degree.get(e.source) + 1);
      degree.set(e.target, degree.get(e.target) + 1);
      return { group: "edges", data: { id: `e:${e.id}`, source: e.source, target: e.target, raw: e } };
    });
  const nodes = graph.nodes.map((n) => ({
    group: "nodes", data: { id: n.id, label: n.id, degree: degree.get(n.id), raw: n } }));
  return [...nodes, ...edges];
}

function query(label, depth, max) {
  const params = new URLSearchParams({ max_depth: String(depth), max_nodes: String(max) });
  if (label) params.set("label", label);
  return getJson("tenant", `/v1/graph?${params}`);
}

async function load() {
  showError(null);
  let graph;
  try {
    graph = await query($("#graph-label").value.trim(), $("#graph-depth").value, $("#graph-max").value);
  } catch (error) {
    showError(error);
    return;
  }
  draw(graph);
}

const STYLE = [
  { selector: "node", style: {
    label: "data(label)", "font-size": 10, "min-zoomed-font-size": 7, color: "#1d2733",
    "background-color": "#3b6ea5", width: "mapData(degree, 0, 20, 10, 40)",
    height: "mapData(degree, 0, 20, 10, 40)", "text-valign": "bottom", "text-margin-y": 3 } },
  { selector: "edge", style: { width: 1, "line-color": "#9aa9b8", "curve-style": "haystack" } },
  { selector: ":selected", style: { "background-color": "#d9534f", "line-color": "#d9534f" } },
];

function draw(graph) {
  const began = performance.now();
  if (cy) cy.destroy();
  const gl = webgl();
  cy = cytoscape({
    container: $("#graph"),
    elements: elements(graph),
    style: STYLE,
    textureOnViewport: graph.nodes.length > FORCE_LAYOUT_MAX,
    hideEdgesOnViewport: graph.nodes.length > FORCE_LAYOUT_MAX,
    renderer: { name: "canvas", webgl: gl },
  });
  layout(cy.elements());
  cy.on("tap", "node", (e) => details(e.target));
  cy.on("tap", "edge", (e) => details(e.target));
  $("#graph").dataset.renderer = gl ? "webgl" : "canvas";
  count();
  // Drawn once the next frame is painted: how long a graph of this size takes to appear.
  requestAnimationFrame(() => requestAnimationFrame(() => {
    $("#graph").dataset.drawMs = String(Math.round(performance.now() - began));
  }));
}

function layout(eles) {
  const big = eles.nodes().length > FORCE_LAYOUT_MAX;
  const options = big
    ? { name: "concentric", concentric: (n) => n.degree(), levelWidth: () => 2, animate: false }
    : { name: "cose", animate: false, randomize: true, nodeRepulsion: () => 8000 };
  eles.layout(options).run();
  cy.fit(undefined, 30);
}

function count() {
  const nodes = cy.nodes().length;
  const edges = cy.edges().length;
  $("#graph").dataset.nodes = String(nodes);
  $("#graph").dataset.edges = String(edges);
  $("#graph-count").textContent = `${nodes} nodes, ${edges} edges`;
  $("#graph-names").replaceChildren(...cy.nodes().map((n) => h("option", { value: n.id() })));
}

function table(properties) {
  const rows = Object.entries(properties || {}).map(([key, value]) =>
    h("tr", {}, h("th", { scope: "row", text: key }),
      h("td", { text: typeof value === "string" ? value : JSON.stringify(value) })));
  return h("table", { class: "props" }, h("tbody", {}, rows));
}

function details(ele) {
  const raw = ele.data("raw");
  const box = $("#graph-details");
  if (ele.isNode()) {
    const expand = h("button", { type: "button", text: "Expand neighbours", onclick: () => expandNode(ele) });
    box.replaceChildren(h("h3", { class: "detail-title", text: raw.id }),
      h("p", { class: "muted", text: (raw.labels || []).join(", ") }), expand, table(raw.properties));
  } else {
    box.replaceChildren(h("h3", { class: "detail-title", text: `${raw.source} → ${raw.target}` }),
      h("p", { class: "muted", text: raw.type || "" }), table(raw.properties));
  }
}

async function expandNode(node) {
  let graph;
  try {
    graph = await query(node.id(), 1, 200);
  } catch (error) {
    showError(error);
    return;
  }
  const fresh = elements(graph).filter((el) => cy.getElementById(el.data.id).empty());
  const added = cy.add(fresh.filter((el) => el.group === "nodes"));
  cy.add(fresh.filter((el) => el.group === "edges"));
  const center = node.position();
  added.nodes().forEach((n, i, all) => {
    const angle = (2 * Math.PI * i) / all.length;
    n.position({ x: center.x + 120 * Math.cos(angle), y: center.y + 120 * Math.sin(angle) });
  });
  cy.batch(() => cy.nodes().forEach((n) => n.data("degree", n.degree())));
  count();
}

function find(text) {
  if (!cy || !text) return;
  const needle = text.toLowerCase();
  const hits = cy.nodes().filter((n) => n.id().toLowerCase().includes(needle));
  cy.elements().unselect();
  if (hits.empty()) {
    showError(new Error(`No node named like "${text}" in the graph drawn.`));
    return;
  }
  showError(null);
  hits.select();
  const first = hits[0];
  cy.animate({ center: { eles: first }, zoom: Math.max(cy.zoom(), 1.2) }, { duration: 200 });
  details(first);
}
