// The public API, as the dashboard uses it. The token lives in
// localStorage: the dashboard's origin serves only Warder's own files
// and API answers; agents' answers on /api/agents/{id}/proxy/ carry
// Content-Security-Policy: sandbox, so a page an agent serves runs in an
// opaque origin with no scripts and cannot read this storage.
import { checkRuntime, UNAVAILABLE } from './runtime.js';

const KEY = 'warder.token';

export const session = {
  get token() { return localStorage.getItem(KEY); },
  set(token) { localStorage.setItem(KEY, token); },
  clear() { localStorage.removeItem(KEY); },
};

// APIError is a refused answer. A 503 (the runtime unavailable) gets
// words for people as its detail, the server's kept as serverDetail, and
// has the banner checked.
export class APIError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status; this.detail = detail; this.serverDetail = detail;
    if (status === 503) { this.detail = UNAVAILABLE; checkRuntime(); }
  }
}

function headers(extra) {
  const h = { ...extra };
  if (session.token) h.Authorization = 'Bearer ' + session.token;
  return h;
}

// retried is fetch, but a GET that fails before any answer comes (a
// dropped connection: "Failed to fetch") is tried twice more, after 0.5 s
// and 1 s: a read changes nothing, and a page stuck on that error helps
// no one. Anything else fails at once.
async function retried(path, init) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fetch(path, init);
    } catch (e) {
      if (init.method !== 'GET' || attempt >= 2 || init.signal?.aborted) throw e;
      await new Promise(r => setTimeout(r, 500 * (attempt + 1)));
    }
  }
}

// api sends one request and answers its JSON body, or throws an APIError
// with the server's detail. A 401 ends the session.
export async function api(method, path, body) {
  const init = { method, headers: headers(body === undefined ? {} : { 'Content-Type': 'application/json' }) };
  if (body !== undefined) init.body = JSON.stringify(body);
  const resp = await retried(path, init);
  const text = await resp.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { detail: text }; }
  if (!resp.ok) {
    if (resp.status === 401 && session.token) { session.clear(); location.hash = '#/login'; }
    throw new APIError(resp.status, (data && data.detail) || resp.statusText);
  }
  return data;
}

// failure is the APIError of a refused answer, with the server's detail.
// A 401 ends the session.
async function failure(resp) {
  if (resp.status === 401 && session.token) { session.clear(); location.hash = '#/login'; }
  let detail = resp.statusText;
  try { detail = (await resp.json()).detail || detail; } catch {}
  return new APIError(resp.status, detail);
}

// raw sends one request whose body, if any, is bytes (a File, a Blob),
// sent as application/octet-stream, and answers the Response itself, or
// throws an APIError as api does.
export async function raw(method, path, body) {
  const resp = await fetch(path, { method, body, headers: headers(body === undefined ? {} : { 'Content-Type': 'application/octet-stream' }) });
  if (!resp.ok) throw await failure(resp);
  return resp;
}

// stream reads a Server-Sent Events answer, calling onEvent(name, data)
// for each event (data parsed as JSON), until it ends or signal aborts.
// EventSource cannot send a bearer token, so this is fetch and a reader.
export async function stream(path, { method = 'GET', body, signal, onEvent }) {
  const init = { method, signal, headers: headers({ Accept: 'text/event-stream' }) };
  if (body !== undefined) { init.body = JSON.stringify(body); init.headers['Content-Type'] = 'application/json'; }
  const resp = await fetch(path, init);
  if (!resp.ok) throw await failure(resp);
  const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '', name = '', data = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).replace(/\r$/, '');
      buf = buf.slice(nl + 1);
      if (line === '') {
        if (data.length) {
          let d = data.join('\n');
          try { d = JSON.parse(d); } catch {}
          onEvent(name || 'message', d);
        }
        name = ''; data = [];
      } else if (line.startsWith('event:')) name = line.slice(6).trim();
      else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
    }
  }
}
