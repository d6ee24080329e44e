// h builds an element: h('button.secondary', {onclick}, 'text', child…).
// Text is always text (never parsed as HTML), so names and log lines an
// agent controls cannot inject markup.
export function h(tag, attrs, ...children) {
  const [name, ...classes] = tag.split('.');
  const el = document.createElement(name);
  if (classes.length) el.className = classes.join(' ');
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'value') el.value = v;
    else if (k === 'checked') el.checked = true;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat(Infinity)) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

// svgEl builds an SVG element.
export function svgEl(tag, attrs) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  return el;
}

// confirmDialog asks with the page's <dialog>; it resolves true on OK.
export function confirmDialog(text, ok = 'Delete') {
  const d = document.getElementById('confirm');
  document.getElementById('confirm-text').textContent = text;
  document.getElementById('confirm-ok').textContent = ok;
  d.returnValue = '';
  d.showModal();
  return new Promise(resolve => d.addEventListener('close', () => resolve(d.returnValue === 'ok'), { once: true }));
}

// statusBadge is the agent's status; an exit with code 0 is a clean end,
// drawn quietly rather than in the colour of a failure.
export function statusBadge(a) {
  const clean = a.status === 'exited' && a.exit_code === 0;
  return h('span.status.' + a.status + (clean ? '.clean' : ''), { 'data-status': a.status, title: a.status_reason || '' },
    a.status === 'exited' && a.exit_code !== null && a.exit_code !== undefined ? `exited (${a.exit_code})` : a.status);
}

// ago is how long since t, short: 45 s, 12 min, 3 h, 2 d.
export function ago(t) {
  if (!t) return '';
  const s = Math.max(0, (Date.now() - new Date(t)) / 1000);
  if (s < 60) return Math.floor(s) + ' s';
  if (s < 3600) return Math.floor(s / 60) + ' min';
  if (s < 86400) return Math.floor(s / 3600) + ' h';
  return Math.floor(s / 86400) + ' d';
}

// when is a moment for people: "5 minutes ago", "yesterday", in a <time>
// whose title is the full local date and time.
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
const steps = [[60, 'second'], [60, 'minute'], [24, 'hour'], [7, 'day'], [4.35, 'week'], [12, 'month'], [Infinity, 'year']];
export function when(t) {
  if (!t) return h('span.muted', {}, '—');
  const d = new Date(t);
  let v = (d - Date.now()) / 1000, text = '';
  for (const [n, unit] of steps) {
    if (Math.abs(v) < n) { text = relative.format(Math.round(v), unit); break; }
    v /= n;
  }
  if (Math.abs((d - Date.now()) / 1000) < 10) text = 'just now';
  return h('time', { datetime: d.toISOString(), title: d.toLocaleString() }, text);
}

// bytes is a size for people: 1.5KB.
export function bytes(n) {
  const u = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  for (n = n || 0; n >= 1024 && i < u.length - 1; i++) n /= 1024;
  return n.toFixed(i ? 1 : 0) + u[i];
}
