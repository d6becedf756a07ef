// The public HTTP API (shared/API.md) and its errors in words a person understands.
// Keys live in sessionStorage only: never in a URL, a cookie or a log line.

const STORE = { tenant: "ragapi.key", admin: "ragapi.admin" };

export function getKey(kind) {
  return sessionStorage.getItem(STORE[kind]) || "";
}

export function setKey(kind, value) {
  if (value) sessionStorage.setItem(STORE[kind], value);
  else sessionStorage.removeItem(STORE[kind]);
}

export class ApiError extends Error {
  constructor(status, body, retryAfter) {
    super(explain(status, body, retryAfter));
    this.status = status;
    this.body = body;
  }
}

function fieldList(details) {
  if (!Array.isArray(details)) return "";
  const parts = details.map((d) => {
    const where = Array.isArray(d.loc) ? d.loc.join(".") : d.field || "";
    return where ? `${where}: ${d.msg || d.message || ""}` : d.msg || d.message || "";
  });
  return parts.length ? ` (${parts.join("; ")})` : "";
}

export function explain(status, body, retryAfter) {
  const error = (body && body.error) || {};
  const said = error.message ? ` The API said: ${error.message}` : "";
  const wait = retryAfter ? ` Wait ${retryAfter} s and try again.` : " Try again later.";
  switch (status) {
    case 0: return "The API could not be reached: check the connection and that the server runs.";
    case 400: return `The request was not understood.${said}`;
    case 401: return "Wrong key: it was not accepted (unknown, revoked or missing). Enter the key again.";
    case 403: return `Not allowed.${said}`;
    case 404: return `Not found: it does not exist or was deleted.${said}`;
    case 409: return `Conflict: it exists already.${said}`;
    case 413: return `Too large for this tenant's limit.${said}`;
    case 415: return `This file type is not supported.${said}`;
    case 422: return `Some fields are not valid${fieldList(error.details)}.${said}`;
    case 429: return `Too many requests.${wait}`;
    case 503: return `A service the API needs is down for now.${wait}`;
    case 504: return `The request took too long and was stopped.${said}`;
    default: return `The API answered ${status}.${said}`;
  }
}

async function bodyOf(response) {
  try {
    return await response.json();
  } catch {
    return null;
  }
}

export async function call(kind, method, path, { json, signal } = {}) {
  const headers = { Authorization: `Bearer ${getKey(kind)}` };
  const init = { method, headers, signal, cache: "no-store" };
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (exc) {
    if (exc.name === "AbortError") throw exc;
    throw new ApiError(0, null, null);
  }
  if (!response.ok) {
    throw new ApiError(response.status, await bodyOf(response), response.headers.get("Retry-After"));
  }
  return response;
}

export async function getJson(kind, path) {
  return (await call(kind, "GET", path)).json();
}

export async function sendJson(kind, method, path, json) {
  const response = await call(kind, method, path, { json });
  return response.status === 204 ? null : bodyOf(response);
}

// Server-Sent Events over fetch (EventSource cannot send the Authorization header).
export async function* events(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n/g, "\n");
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let event = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length) yield { event, data: JSON.parse(data.join("\n")) };
    }
  }
}

// One upload with the progress of its bytes (fetch has no upload progress).
export function upload(file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/v1/documents");
    xhr.setRequestHeader("Authorization", `Bearer ${getKey("tenant")}`);
    xhr.responseType = "json";
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    xhr.onerror = () => reject(new ApiError(0, null, null));
    xhr.onload = () => {
      if (xhr.status === 202) resolve(xhr.response);
      else reject(new ApiError(xhr.status, xhr.response, xhr.getResponseHeader("Retry-After")));
    };
    const form = new FormData();
    form.append("files", file, file.name);
    xhr.send(form);
  });
}
