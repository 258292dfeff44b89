// Calls to the ttp API with the viewer's key. The key lives in this tab's
// sessionStorage (gone when the tab closes) and travels as a bearer header; the page
// sets no cookie, so another site cannot make the browser act with it.

const STORE = 'ttp.key';
let unauthorized = () => {};

export function key() {
  return sessionStorage.getItem(STORE);
}

export function setKey(secret) {
  if (secret) sessionStorage.setItem(STORE, secret);
  else sessionStorage.removeItem(STORE);
}

/** Called with the problem when the API answers 401 (no key, or a refused one). */
export function onUnauthorized(handler) {
  unauthorized = handler;
}

/** Headers of every call. */
export function headers(extra = {}) {
  const secret = key();
  return secret ? { ...extra, authorization: `Bearer ${secret}` } : extra;
}

/** An API error: the status and its problem details. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

/** method path [body] → the JSON answer (null for 204); throws ApiError. */
export async function call(method, path, body) {
  const init = { method, headers: headers(), cache: 'no-store' };
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, { detail: `ttp does not answer (${e.message})` });
  }
  const text = await response.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = { detail: text };
  }
  if (!response.ok) {
    const error = new ApiError(response.status, parsed);
    if (response.status === 401) unauthorized(error);
    throw error;
  }
  return parsed;
}

export const get = (path) => call('GET', path);
export const post = (path, body = {}) => call('POST', path, body);
export const del = (path) => call('DELETE', path);

/** `/ui/config`: whether keys are required, which optional APIs exist. Open. */
export async function config() {
  const response = await fetch('ui/config', { cache: 'no-store' });
  if (!response.ok) throw new ApiError(response.status, null);
  return response.json();
}
