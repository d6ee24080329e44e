// The agents list (live from /api/events) and the create / edit form.
import { api, stream, APIError } from './api.js';
import { h, statusBadge, confirmDialog, ago } from './dom.js';
import { runtime, onRuntime, CANNOT_RUN } from './runtime.js';

// follow calls onStatus(event) for every status change until signal ends,
// reconnecting after a dropped stream.
export function followEvents(signal, onStatus) {
  (async () => {
    while (!signal.aborted) {
      try { await stream('/api/events', { signal, onEvent: (n, d) => n === 'status' && onStatus(d) }); } catch {}
      if (!signal.aborted) await new Promise(r => setTimeout(r, 2000));
    }
  })();
}

// missingAgent is the page of an agent that does not exist (deleted, or
// a mistyped link), with the way back. id is text, never markup.
export function missingAgent(id) {
  return h('section.card.narrow', { id: 'not-found' }, h('h1', {}, 'No such agent'),
    h('p', {}, 'There is no agent ', h('code', {}, id), ' that you can see: it may have been deleted.'),
    h('p', {}, h('a.button', { href: '#/agents' }, '← Back to agents')));
}

export async function agentAction(id, action) {
  if (action === 'delete') return api('DELETE', '/api/agents/' + id);
  return api('POST', `/api/agents/${id}/${action}`);
}

export async function agentsView({ signal }) {
  const rows = new Map(); // id → {agent, tr, stats}
  const tbody = h('tbody');
  const err = h('p.error', { role: 'alert', id: 'list-error' });
  const text = h('input', { type: 'search', placeholder: 'Filter by name or image', 'aria-label': 'Filter by name or image', id: 'filter' });
  const status = h('select', { 'aria-label': 'Status', id: 'status-filter' }, h('option', { value: '' }, 'Any status'),
    ['running', 'paused', 'starting', 'stopping', 'stopped', 'exited', 'failed', 'missing', 'created'].map(s => h('option', { value: s }, s)));
  // Selection lives beside each row, so a redraw (a status event) keeps it.
  const selected = () => [...rows.values()].filter(r => r.selected && !r.tr.hidden);
  // The bulk buttons work on the selection: disabled, and saying so, with
  // nothing selected; start and stop also while the runtime is down.
  const bulkButtons = [['start', 'Start', '.secondary'], ['stop', 'Stop', '.secondary'], ['delete', 'Delete', '.danger']].map(([action, label, cls]) =>
    h('button' + cls, { onclick: () => act(selected().map(r => r.agent.id), action), 'data-bulk': action }, label));
  const count = h('span.muted', { id: 'selected-count' });
  function drawBulk() {
    const n = selected().length;
    count.textContent = n ? `${n} selected:` : 'Select agents to start, stop or delete several at once';
    for (const b of bulkButtons) {
      const down = b.dataset.bulk !== 'delete' && !runtime.ok;
      b.disabled = !n || down;
      b.title = down ? CANNOT_RUN : n ? '' : 'Nothing selected';
    }
  }
  // The empty list says what to do, in the table's foot.
  const empty = h('tfoot', { id: 'agents-empty', hidden: true }, h('tr', {}, h('td', { colspan: 10 },
    h('h2', {}, 'No agents yet'),
    h('p', {}, 'An agent is a container Warder runs for you. Create one with ', h('a', { href: '#/agents/new' }, 'New agent'),
      ': every field has a default, and the default image needs nothing pulled. Then start it and open it for its logs, stats, chat and files.'),
    h('p.muted', {}, 'From a shell: ', h('code', {}, 'warder agents create NAME'), ' then ', h('code', {}, 'warder agents start NAME'), '.'))));
  const noMatch = h('p.muted', { id: 'agents-no-match', hidden: true }, 'No agent matches the filter.');
  function drawEmpty() {
    empty.hidden = rows.size > 0;
    noMatch.hidden = !rows.size || [...rows.values()].some(r => !r.tr.hidden);
    head.hidden = !rows.size;
    drawBulk();
  }

  async function act(ids, action) {
    err.textContent = '';
    if (action === 'delete' && !await confirmDialog(`Delete ${ids.length === 1 ? 'agent ' + rows.get(ids[0]).agent.name : ids.length + ' agents'}? Its container is removed.`)) return;
    for (const id of ids) {
      try {
        await agentAction(id, action);
        if (action === 'delete') drop(id); else put(await api('GET', '/api/agents/' + id));
      } catch (x) { err.textContent = `${rows.get(id)?.agent.name}: ${x.detail || x}`; }
    }
  }

  function draw(r) {
    const a = r.agent, st = r.stats;
    const running = a.status === 'running';
    const down = !runtime.ok;
    const btn = (label, action, cls) => h('button' + (cls || ''), { 'data-action': action, onclick: () => act([a.id], action), 'aria-label': `${label} ${a.name}`,
      ...(action !== 'delete' && down ? { disabled: true, title: CANNOT_RUN, 'aria-describedby': 'banner' } : {}) }, label);
    // On a phone the row is a card: each cell labelled (data-label), an
    // empty one left out (null, so the cell is :empty).
    const cell = (label, v) => h('td.detail', { 'data-label': label }, v === '' || v === undefined ? null : v);
    r.tr.replaceChildren(
      h('td.select', {}, h('input', { type: 'checkbox', 'aria-label': 'Select ' + a.name, checked: r.selected, onchange: e => { r.selected = e.target.checked; drawBulk(); } })),
      h('td.name', {}, h('a', { href: '#/agents/' + a.id }, a.name)),
      h('td.state', {}, statusBadge(a), a.status_reason ? h('div.muted', { class: 'muted reason' }, a.status_reason) : null),
      cell('Health', a.health || ''),
      cell('Image', a.container_config.image),
      cell('Port', a.host_port || ''),
      cell('CPU', running && st ? st.cpu_usage : ''),
      cell('Memory', running && st ? st.memory_usage : ''),
      cell('Up', running ? ago(a.status_changed_at) : ''),
      h('td.actions', {}, running ? btn('Stop', 'stop', '.secondary') : btn('Start', 'start'), ' ',
        running ? btn('Restart', 'restart', '.secondary') : null, ' ', btn('Delete', 'delete', '.danger')));
    r.tr.dataset.status = a.status;
    filter(r);
  }
  function filter(r) {
    const q = text.value.toLowerCase(), s = status.value, a = r.agent;
    r.tr.hidden = !!(q && !(a.name.toLowerCase().includes(q) || a.container_config.image.toLowerCase().includes(q))) || !!(s && a.status !== s);
  }
  const refilter = () => { rows.forEach(filter); drawEmpty(); };
  async function loadStats(r) {
    if (r.agent.status !== 'running') return;
    try { r.stats = (await api('GET', `/api/agents/${r.agent.id}/stats`)).stats; draw(r); } catch {}
  }
  function put(a) {
    let r = rows.get(a.id);
    if (!r) { r = { agent: a, tr: h('tr', { 'data-agent': a.id, 'data-name': a.name }) }; rows.set(a.id, r); tbody.append(r.tr); }
    const wasRunning = r.agent.status === 'running';
    r.agent = a;
    draw(r);
    drawEmpty();
    if (a.status === 'running' && (!wasRunning || !r.stats)) loadStats(r);
  }
  text.addEventListener('input', refilter);
  status.addEventListener('change', refilter);

  const head = h('thead', {}, h('tr', {}, h('th', {}, ''), h('th', {}, 'Name'), h('th', {}, 'Status'), h('th', {}, 'Health'), h('th', {}, 'Image'),
    h('th', {}, 'Port'), h('th', {}, 'CPU'), h('th', {}, 'Memory'), h('th', {}, 'Up'), h('th', {}, '')));
  const table = h('table', { id: 'agents' }, head, tbody, empty);
  for (const a of await api('GET', '/api/agents')) put(a);
  drawEmpty();
  onRuntime(() => { rows.forEach(draw); drawEmpty(); }, signal);
  const drop = id => { rows.get(id)?.tr.remove(); rows.delete(id); drawEmpty(); };
  followEvents(signal, async ev => {
    if (ev.to === 'deleted') return drop(ev.agent_id);
    try { put(await api('GET', '/api/agents/' + ev.agent_id)); } catch (x) { if (x.status === 404) drop(ev.agent_id); }
  });
  return h('section', {},
    h('div.toolbar', {}, h('h1.flat.grow', {}, 'Agents'), h('a.button', { href: '#/agents/new', id: 'new-agent' }, 'New agent')),
    h('div.toolbar', {}, text, status, count, ...bulkButtons),
    err, noMatch,
    h('div.table-wrap', {}, table));
}

// fieldFor names the form field a validation error is about, from the
// server's detail (which names the field it refuses).
const fieldWords = [['memory_limit', 'memory'], ['cpu_limit', 'cpu'], ['restart_policy', 'restart'], ['auto_stop_minutes', 'autostop'],
  ['secret_env', 'secrets'], ['env_vars', 'env'], ['egress', 'network'], ['network', 'network'], ['port', 'port'], ['image', 'image'],
  ['description', 'description'], ['name', 'name'], ['type', 'type'], ['config', 'model']];
export function fieldFor(detail) {
  for (const [w, f] of fieldWords) if (detail.includes(w)) return f;
  return null;
}

// changes is the part of body that differs from agent a: a PATCH of only
// what was edited, so a running agent's description can change without
// touching its container settings (which the server refuses while it runs).
const same = (x, y) => JSON.stringify(x ?? null) === JSON.stringify(y ?? null);
function changes(a, body) {
  const out = {};
  for (const k of ['name', 'description', 'type', 'config']) if (!same(a[k], body[k])) out[k] = body[k];
  const cc = {};
  for (const [k, v] of Object.entries(body.container_config)) {
    if (v === undefined) continue;
    if (k === 'secret_env' || !same(a.container_config[k], v)) cc[k] = v;
  }
  if (Object.keys(cc).length) out.container_config = cc;
  return out;
}

function parseEnv(text) {
  const out = {};
  for (const line of text.split('\n')) {
    const l = line.trim();
    if (!l) continue;
    const i = l.indexOf('=');
    out[i < 0 ? l : l.slice(0, i)] = i < 0 ? '' : l.slice(i + 1);
  }
  return out;
}

export async function agentFormView(id) {
  let a, usage;
  try {
    [a, usage] = await Promise.all([id ? api('GET', '/api/agents/' + id) : null, api('GET', '/api/system/limits').catch(() => null)]);
  } catch (x) { if (x.status === 404 || x.status === 400) return missingAgent(id); throw x; }
  const images = usage?.images || { default: '', allowed: [] };
  const cc = a ? a.container_config : {};
  const errs = {};
  const field = (name, label, input, help) => {
    errs[name] = h('p.field-error', { id: name + '-error', role: 'alert' });
    input.id = name; input.name = name; input.setAttribute('aria-describedby', name + '-error');
    return h('div', {}, h('label', { for: name }, label), input, help ? h('div.muted', {}, help) : null, errs[name]);
  };
  const form = h('form.card', { id: 'agent-form', novalidate: true },
    h('h1', {}, a ? 'Edit ' + a.name : 'New agent'),
    h('div.grid', {},
      field('name', 'Name', h('input', { value: a?.name || '', required: true })),
      field('type', 'Type', h('input', { value: a?.type || 'chat' })),
      field('image', 'Image', h('input', { value: cc.image || '', placeholder: images.default || 'default agent image', list: 'allowed-images' }),
        'Empty: ' + (images.default || 'the default image') + (images.allowed.length ? '. Allowed: ' + images.allowed.join(', ') : '')),
      h('datalist', { id: 'allowed-images' }, images.allowed.filter(p => !p.includes('*')).map(p => h('option', { value: p }))),
      field('model', 'Model', h('input', { value: a?.config?.model || '' })),
      field('memory', 'Memory limit', h('input', { value: cc.memory_limit || '512m' })),
      field('cpu', 'CPU limit', h('input', { value: cc.cpu_limit ?? 0.5, inputmode: 'decimal' })),
      field('port', 'Agent port', h('input', { value: cc.port || 8000, inputmode: 'numeric' })),
      field('network', 'Network', h('select', {}, ['egress', 'internal'].map(n => h('option', { value: n, selected: cc.network === n }, n)))),
      field('restart', 'Restart policy', h('input', { value: cc.restart_policy || 'no' }), 'no, on-failure, on-failure:N, unless-stopped'),
      field('autostop', 'Auto-stop after idle (minutes)', h('input', { value: cc.auto_stop_minutes ?? 0, inputmode: 'decimal' }), '0: never')),
    field('description', 'Description', h('input', { value: a?.description || '' })),
    field('env', 'Environment (KEY=value, one a line)', h('textarea', { value: Object.entries(cc.env_vars || {}).map(([k, v]) => k + '=' + v).join('\n') })),
    field('secrets', 'Secrets (KEY=value, one a line; write-only)', h('textarea.secret', { autocomplete: 'off', spellcheck: 'false' }),
      a && cc.secret_env_names?.length ? 'Kept unless you enter new ones: ' + cc.secret_env_names.join(', ') : 'Never shown again once saved'),
    a ? null : h('label', {}, h('input', { type: 'checkbox', name: 'autostart', id: 'autostart' }), ' Start it now'),
    errs.form = h('p.error', { id: 'form-error', role: 'alert' }),
    h('p', {}, h('button', { type: 'submit' }, a ? 'Save' : 'Create'), ' ', h('a', { href: a ? '#/agents/' + a.id : '#/agents' }, 'Cancel')));
  form.addEventListener('submit', async e => {
    e.preventDefault();
    Object.values(errs).forEach(el => el.textContent = '');
    const v = k => form.elements[k].value.trim();
    const num = k => v(k) === '' ? undefined : Number(v(k));
    const body = {
      name: v('name'), description: v('description'), type: v('type') || 'chat',
      config: { ...(a?.config || {}), ...(v('model') ? { model: v('model') } : {}) },
      container_config: {
        image: v('image') || undefined, memory_limit: v('memory'), cpu_limit: num('cpu'), port: num('port'),
        network: v('network'), restart_policy: v('restart'), auto_stop_minutes: num('autostop'), env_vars: parseEnv(form.elements.env.value),
      },
    };
    if (v('secrets')) body.container_config.secret_env = parseEnv(form.elements.secrets.value);
    if (!a && form.elements.autostart.checked) body.container_config.auto_start = true;
    try {
      const saved = a ? await api('PATCH', '/api/agents/' + a.id, changes(a, body)) : await api('POST', '/api/agents', body);
      location.hash = a ? '#/agents/' + saved.id : '#/agents';
    } catch (x) {
      const detail = x instanceof APIError ? x.detail : String(x);
      const f = x.status === 400 ? fieldFor(detail) : null;
      (errs[f] || errs.form).textContent = detail;
      form.elements[f]?.setAttribute('aria-invalid', 'true');
      form.elements[f]?.focus();
    }
  });
  return form;
}
