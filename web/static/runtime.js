// Whether agents can run: GET /readyz (public) answers 503 while Warder
// cannot reach its container runtime (Docker down) or its database.
// Meanwhile a banner says so, the views disable the buttons that cannot
// work and say why, and a 503 is explained in words rather than shown as
// the engine's error. Checked on every page, again after any 503, and
// every 30 s (every 5 s while down, so the banner goes once it is back).
import { h } from './dom.js';

export const runtime = { ok: true, detail: '' };
// UNAVAILABLE explains a 503 from the API.
export const UNAVAILABLE = 'Not possible right now: Warder cannot reach its container runtime. It keeps retrying; try again once the banner at the top is gone.';
// CANNOT_RUN is the title of a start, stop or restart button meanwhile.
export const CANNOT_RUN = 'The container runtime is unavailable: agents cannot start or stop until it is back';

const listeners = new Set();
let timer = null;

// onRuntime calls fn whenever the runtime's state changes, until signal ends.
export function onRuntime(fn, signal) {
  listeners.add(fn);
  signal.addEventListener('abort', () => listeners.delete(fn));
}

// checkRuntime asks /readyz now, draws the banner, and tells the views.
export async function checkRuntime() {
  let ok = true, detail = '';
  try {
    const resp = await fetch('/readyz', { cache: 'no-store' });
    if (!resp.ok) { ok = false; try { detail = (await resp.json()).detail || ''; } catch {} }
  } catch { ok = false; detail = 'Warder itself is not answering.'; }
  clearTimeout(timer);
  timer = setTimeout(checkRuntime, ok ? 30000 : 5000);
  if (ok === runtime.ok && detail === runtime.detail) return;
  runtime.ok = ok; runtime.detail = detail;
  drawBanner();
  listeners.forEach(fn => fn(runtime));
}

// drawBanner fills <div id="banner">; the server's words, which name the
// engine's socket and error, are there for whoever runs Warder, folded.
function drawBanner() {
  const el = document.getElementById('banner');
  el.hidden = runtime.ok;
  if (runtime.ok) { el.replaceChildren(); return; }
  const what = /database|store|sql/i.test(runtime.detail) && !/docker|kubernetes|podman|runtime/i.test(runtime.detail) ? 'its database' : 'its container runtime';
  el.replaceChildren(h('strong', {}, `Warder cannot reach ${what}.`), ' ',
    'Agents cannot start or stop, and their logs, stats, chat and files wait until it is back; agents already running keep running. Warder keeps retrying and this notice goes away by itself.',
    runtime.detail ? h('details', {}, h('summary', {}, 'Details for the operator'), h('code', {}, runtime.detail)) : null);
}
