// Admin (admin token): tenants, their config (secrets stay masked), keys.
import { getJson, getKey, sendJson, setKey } from "./api.js";
import { $, confirmAction, h, showError, when } from "./dom.js";

let current = null; // the tenant shown, as the API answered it (config masked)

export function init() {
  $("#admin-form").addEventListener("submit", (event) => {
    event.preventDefault();
    setKey("admin", $("#admin-input").value.trim());
    $("#admin-input").value = "";
    show();
  });
  $("#admin-forget").addEventListener("click", () => {
    setKey("admin", "");
    show();
  });
  $("#tenant-create").addEventListener("submit", create);
  $("#tenant-edit").addEventListener("submit", save);
  $("#key-create").addEventListener("click", newKey);
}

export function show() {
  $("#admin-state").textContent = getKey("admin") ? "token set for this tab" : "no token yet";
  if (getKey("admin")) list();
}

function guard(work) {
  return work().then(() => showError(null), (error) => showError(error));
}

function list() {
  return guard(async () => {
    const { tenants } = await getJson("admin", "/v1/tenants");
    $("#tenants").replaceChildren(...tenants.map((t) => h("li", {},
      h("button", { type: "button", class: "link", "data-tenant": t.id, onclick: () => open(t.id) },
        h("strong", { text: t.id }), " ", h("span", { class: "muted", text: t.name })))));
  });
}

function showSecret(label, value) {
  const box = $("#secret");
  const field = h("input", { readonly: true, value, "aria-label": label, class: "secret-value" });
  box.replaceChildren(h("p", { text: `${label} (shown once, copy it now):` }), field);
  box.hidden = false;
  field.select();
}

function create(event) {
  event.preventDefault();
  guard(async () => {
    const body = { id: $("#new-id").value.trim(), name: $("#new-name").value.trim() };
    const made = await sendJson("admin", "POST", "/v1/tenants", body);
    $("#tenant-create").reset();
    await list();
    await open(made.tenant.id);
    showSecret(`API key of ${made.tenant.id}`, made.api_key);
  });
}

function open(id) {
  return guard(async () => {
    current = await getJson("admin", `/v1/tenants/${encodeURIComponent(id)}`);
    $("#tenant-panel").hidden = false;
    $("#secret").hidden = true;
    $("#tenant-title").textContent = `Tenant ${current.id}`;
    $("#edit-name").value = current.name;
    $("#edit-config").value = JSON.stringify(current.config || {}, null, 2);
    await keys();
  });
}

// A masked secret sent back unchanged would overwrite the real one: drop what is unchanged.
function changedOnly(edited, original) {
  if (typeof edited !== "object" || edited === null || Array.isArray(edited)) return edited;
  const out = {};
  for (const [key, value] of Object.entries(edited)) {
    const before = original && typeof original === "object" ? original[key] : undefined;
    if (key === "api_key" && value === before) continue;
    out[key] = changedOnly(value, before);
  }
  return out;
}

function save(event) {
  event.preventDefault();
  guard(async () => {
    let config;
    try {
      config = JSON.parse($("#edit-config").value || "{}");
    } catch (error) {
      throw new Error(`The config is not valid JSON: ${error.message}`);
    }
    const body = { name: $("#edit-name").value.trim(), config: changedOnly(config, current.config) };
    current = await sendJson("admin", "PATCH", `/v1/tenants/${encodeURIComponent(current.id)}`, body);
    $("#edit-config").value = JSON.stringify(current.config || {}, null, 2);
    await list();
  });
}

async function keys() {
  const { keys: found } = await getJson("admin", `/v1/tenants/${encodeURIComponent(current.id)}/keys`);
  $("#keys").replaceChildren(...found.map((k) => h("li", { "data-key": k.key_id },
    h("code", { text: k.key_id }), " ", h("span", { class: "muted", text: when(k.created_at) }), " ",
    h("button", { type: "button", class: "quiet", text: "Revoke", "aria-label": `Revoke key ${k.key_id}`,
      onclick: () => revoke(k.key_id) }))));
}

function newKey() {
  guard(async () => {
    const made = await sendJson("admin", "POST", `/v1/tenants/${encodeURIComponent(current.id)}/keys`);
    await keys();
    showSecret(`New key ${made.key_id}`, made.api_key);
  });
}

async function revoke(keyId) {
  if (!(await confirmAction(`Revoke key ${keyId}? Clients using it stop working within a second.`))) return;
  guard(async () => {
    await sendJson("admin", "DELETE", `/v1/tenants/${encodeURIComponent(current.id)}/keys/${encodeURIComponent(keyId)}`);
    await keys();
  });
}
