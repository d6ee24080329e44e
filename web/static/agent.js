// One agent: status and actions, live stats chart, live logs, status
// history, a terminal, chat, its workspace's files, and the commands that do the same from a shell.
import { api, stream } from './api.js';
import { h, svgEl, statusBadge, confirmDialog, bytes, when } from './dom.js';
import { filesCard } from './files.js';
import { egressCard, egressText } from './egress.js';
import { usageCard } from './usage.js';
import { snapshotsCard } from './snapshots.js';
import { terminalCard } from './terminal.js';
import { followEvents, agentAction, missingAgent } from './agents.js';
import { runtime, onRuntime, CANNOT_RUN } from './runtime.js';

const HISTORY = '5m', MAX_POINTS = 300, TAIL = 200;

// chart is a line of the last MAX_POINTS values, scaled to their maximum,
// with its label and the newest value.
function chart(id, label, fmt) {
  const values = [], times = [];
  const line = svgEl('polyline', { class: id, id: id + '-line' });
  const svg = svgEl('svg', { class: 'chart', viewBox: '0 0 300 100', preserveAspectRatio: 'none', role: 'img', 'aria-label': label + ' over time' });
  svg.append(line);
  const caption = h('span.muted', {}, '');
  // The axes: the scale's top (the highest value shown) and the time the
  // line spans, oldest at the left.
  const top = h('span.axis-top', { id: id + '-axis-max' }), span = h('span', { id: id + '-axis-span' });
  const el = h('figure.chart', {}, h('figcaption', {}, h('strong', {}, label), ' ', caption),
    h('div.plot', {}, top, svg), h('div.axis-x.muted', {}, span, h('span', {}, 'now')));
  const draw = () => {
    const n = values.length, max = Math.max(...values, id === 'cpu' ? 1 : 1e-9);
    top.textContent = n ? fmt(max) : '';
    span.textContent = n > 1 ? `${Math.max(1, Math.round((times[n - 1] - times[0]) / 60))} min ago` : '';
    line.setAttribute('points', values.map((v, i) => `${n < 2 ? 0 : (i * 300 / (n - 1)).toFixed(1)},${(98 - v * 94 / max).toFixed(1)}`).join(' '));
    svg.dataset.points = n;
  };
  return {
    el,
    push(v, text, at) { values.push(v); times.push(at); if (values.length > MAX_POINTS) { values.shift(); times.shift(); } caption.textContent = text; draw(); },
    reset() { values.length = 0; times.length = 0; caption.textContent = ''; draw(); },
  };
}

export async function agentView(id, { signal }) {
  let a;
  try { a = await api('GET', '/api/agents/' + id); } catch (x) { if (x.status === 404 || x.status === 400) return missingAgent(id); throw x; }
  const head = h('div.toolbar.agent-head');
  const err = h('p.error', { role: 'alert', id: 'agent-error' });
  let live = null; // AbortController of the logs and stats streams of the status shown

  const drawHead = () => {
    const running = a.status === 'running', paused = a.status === 'paused';
    // Start, stop and restart need the runtime; while it is down they say why.
    const btn = (label, action, cls) => h('button' + (cls || ''), { 'data-action': action, onclick: () => act(action),
      ...(action !== 'delete' && !runtime.ok ? { disabled: true, title: CANNOT_RUN, 'aria-describedby': 'banner' } : {}) }, label);
    head.replaceChildren(h('h1.flat', {}, a.name), statusBadge(a), h('span.muted', { id: 'reason' }, a.status_reason || ''),
      h('span.grow'), running || paused ? btn('Stop', 'stop', '.secondary') : btn('Start', 'start'),
      running ? btn('Pause', 'pause', '.secondary') : paused ? btn('Resume', 'resume') : '',
      running ? btn('Restart', 'restart', '.secondary') : '', h('a', { href: `#/agents/${id}/edit` }, 'Edit'), btn('Delete', 'delete', '.danger'));
  };
  async function act(action) {
    err.textContent = '';
    if (action === 'delete' && !await confirmDialog(`Delete agent ${a.name}? Its container is removed.`)) return;
    try {
      await agentAction(id, action);
      if (action === 'delete') { location.hash = '#/agents'; return; }
      update(await api('GET', '/api/agents/' + id));
    } catch (x) { err.textContent = x.detail || String(x); }
  }
  // What the agent is: image, port, limits, environment names (never
  // values), network, egress and isolation.
  const details = h('dl.kv', { id: 'agent-details' });
  const drawDetails = () => {
    const c = a.container_config || {};
    const names = [...Object.keys(c.env_vars || {}).sort(), ...(c.secret_env_names || []).map(n => n + ' (secret)')];
    const row = (k, v, key) => [h('dt', {}, k), h('dd', { 'data-detail': key }, v)];
    details.replaceChildren(
      ...row('Image', h('code', {}, c.image || ''), 'image'),
      ...row('Port', (c.port || 8000) + (a.host_port ? ` (host port ${a.host_port})` : ''), 'port'),
      ...row('Limits', `memory ${c.memory_limit || 'default'}, CPUs ${c.cpu_limit || 'default'}`, 'limits'),
      ...row('Environment', names.length ? names.join(', ') : h('span.muted', {}, 'none'), 'env'),
      ...row('Network', c.network || 'egress', 'network'),
      ...row('Egress', egressText(c), 'egress'),
      ...row('Isolation', c.isolation || "default (the deployment's)", 'isolation'));
  };
  function update(next) {
    const was = a.status;
    a = next;
    drawHead();
    drawDetails();
    terminal.update(a);
    if (a.status !== was || !live) watch();
    loadHistory();
  }

  // Stats: backfill from ?history=, then one event per sample; a chart
  // each for CPU, memory and network (bytes a second, in and out).
  const charts = { cpu: chart('cpu', 'CPU', v => v.toFixed(1) + '%'), mem: chart('mem', 'Memory', v => bytes(v)), net: chart('net', 'Network', v => bytes(v) + '/s') };
  const now = h('p.muted', { id: 'stats-now' }, 'Not running');
  let last = null;
  const addSample = s => {
    const at = new Date(s.read_at).getTime() / 1000;
    const rx = s.network_rx_bytes, tx = s.network_tx_bytes;
    let rate = 0;
    if (last && at > last.at && rx >= last.rx && tx >= last.tx) rate = (rx - last.rx + tx - last.tx) / (at - last.at);
    last = { at, rx, tx };
    charts.cpu.push(s.cpu_percent || 0, (s.cpu_percent || 0).toFixed(2) + '%', at);
    charts.mem.push(s.memory_bytes || 0, s.memory_usage || bytes(s.memory_bytes), at);
    charts.net.push(rate, bytes(rate) + '/s', at);
    if (s.cpu_usage) now.textContent = `memory limit ${s.memory_limit} · network ${s.network_rx} in, ${s.network_tx} out · pids ${s.pids ?? ''}`;
  };

  // Logs: follow as SSE while running; otherwise the last lines the
  // container wrote (a failed agent's are what people come for). Pause
  // keeps reading but stops drawing.
  const logs = h('pre.logs', { id: 'logs', tabindex: 0, 'aria-label': 'Logs' });
  const logsNote = h('p.muted.flat', { id: 'logs-note' });
  const lines = [];
  let paused = false;
  const search = h('input', { type: 'search', placeholder: 'Search logs', 'aria-label': 'Search logs', id: 'log-search' });
  const drawLogs = () => {
    const q = search.value.toLowerCase();
    if (!lines.length) { logs.replaceChildren(h('span.muted', {}, a.container_id ? 'No output.' : 'No logs: this agent has not run yet. Start it and what it writes shows here.')); return; }
    logs.replaceChildren(...lines.filter(l => !q || l.line.toLowerCase().includes(q)).map(l => h('div' + (l.stream === 'stderr' ? '.stderr' : ''), {}, l.line)));
    logs.scrollTop = logs.scrollHeight;
  };
  search.addEventListener('input', drawLogs);
  const pause = h('button.secondary', { id: 'log-pause', onclick: () => { paused = !paused; pause.textContent = paused ? 'Follow' : 'Pause'; if (!paused) drawLogs(); } }, 'Pause');
  const download = h('button.secondary', { onclick: () => {
    const url = URL.createObjectURL(new Blob([lines.map(l => l.line).join('\n') + '\n'], { type: 'text/plain' }));
    h('a', { href: url, download: `${a.name}.log` }).click();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  } }, 'Download');

  // watch starts what the status calls for: while running, the logs and
  // stats followed; otherwise the container's last lines, once.
  function watch() {
    live?.abort();
    live = new AbortController();
    const sig = AbortSignal.any([signal, live.signal]);
    const running = a.status === 'running';
    lines.length = 0;
    logsNote.textContent = '';
    drawLogs();
    if (!a.container_id && !running) return;
    const onEvent = (n, d) => {
      if (n === 'stdout' || n === 'stderr') { lines.push(d); if (lines.length > 5000) lines.shift(); if (!paused) drawLogs(); }
    };
    const tail = stream(`/api/agents/${id}/logs?lines=${running ? '200&follow=true' : TAIL}`, { signal: sig, onEvent });
    if (!running) {
      const code = a.exit_code !== null && a.exit_code !== undefined ? `, exit code ${a.exit_code}` : '';
      tail.then(() => { logsNote.textContent = `The last ${TAIL} lines of its container, which is not running (${a.status}${code}).`; drawLogs(); })
        .catch(x => { if (!sig.aborted) logsNote.textContent = 'Its logs cannot be read: ' + (x.detail || x); });
      return;
    }
    tail.catch(() => {});
    last = null;
    Object.values(charts).forEach(c => c.reset());
    (async () => {
      try { (await api('GET', `/api/agents/${id}/stats?history=${HISTORY}`)).history?.forEach(addSample); } catch {}
      if (sig.aborted) return;
      stream(`/api/agents/${id}/stats?stream=true`, { signal: sig, onEvent: (n, d) => n === 'stats' && addSample(d) }).catch(() => {});
    })();
  }

  // Status history.
  const history = h('tbody', { id: 'history' });
  async function loadHistory() {
    try {
      const { events } = await api('GET', `/api/agents/${id}/events?limit=50`);
      history.replaceChildren(...events.map(e => h('tr', {}, h('td', {}, when(e.at)), h('td', {}, `${e.from} → ${e.to}`),
        h('td', {}, e.reason || h('span.muted', {}, '—')), h('td.hide-phone', {}, e.actor))));
      if (!events.length) history.replaceChildren(h('tr', {}, h('td.muted', {}, 'No changes yet.')));
    } catch (x) { history.replaceChildren(h('tr', {}, h('td.error', {}, x.detail || String(x)))); }
  }

  // Chat: a conversation list and the open conversation, answers streamed.
  let conversation = null;
  const convList = h('ul', { id: 'conversations' });
  const messages = h('div.messages', { id: 'messages', 'aria-live': 'polite' });
  const chatErr = h('p.error', { role: 'alert' });
  const msg = (role, text) => h('div.msg.' + role, { 'data-role': role }, text);
  async function loadConversations() {
    try {
      const { conversations } = await api('GET', `/api/agents/${id}/conversations?limit=20`);
      convList.replaceChildren(h('li', {}, h('button', { onclick: () => { conversation = null; messages.replaceChildren(); } }, '+ New conversation')),
        ...conversations.map(c => h('li', {}, h('button', { onclick: () => openConversation(c.id) }, c.title || when(c.updated_at || c.created_at)))));
    } catch {}
  }
  async function openConversation(cid) {
    const c = await api('GET', `/api/agents/${id}/conversations/${cid}`);
    conversation = cid;
    messages.replaceChildren(...c.messages.map(m => msg(m.role, m.content)));
  }
  const input = h('input', { id: 'chat-input', placeholder: 'Message the agent', 'aria-label': 'Message', autocomplete: 'off' });
  const chatForm = h('form', {}, input, h('button', { type: 'submit', id: 'chat-send' }, 'Send'));
  chatForm.addEventListener('submit', async e => {
    e.preventDefault();
    const content = input.value.trim();
    if (!content) return;
    input.value = ''; chatErr.textContent = '';
    messages.append(msg('user', content));
    const answer = msg('assistant', '');
    messages.append(answer);
    try {
      await stream(`/api/agents/${id}/chat`, { method: 'POST', signal, body: { content, stream: true, ...(conversation ? { conversation_id: conversation } : {}) }, onEvent: (n, d) => {
        if (n === 'message') answer.textContent += d.content;
        else if (n === 'done') { answer.textContent = d.content; conversation = d.conversation_id; answer.dataset.done = '1'; }
        else if (n === 'error') chatErr.textContent = d.detail; // the model's or the agent's words, not the engine's
        messages.scrollTop = messages.scrollHeight;
      } });
      loadConversations();
    } catch (x) { chatErr.textContent = x.detail || String(x); }
  });

  // The same from a shell.
  const origin = location.origin;
  const cmds = h('pre.cmd', { id: 'commands' },
    `curl -H "Authorization: Bearer $WARDER_TOKEN" ${origin}/api/agents/${id}\n` +
    `curl -N -H "Authorization: Bearer $WARDER_TOKEN" -H "Accept: text/event-stream" "${origin}/api/agents/${id}/logs?follow=true"\n` +
    `warder login ${origin}\nwarder agents inspect ${id}\nwarder agents logs -f ${id}\nwarder agents stats ${id}\nwarder agents chat ${id}\nwarder exec -it ${id}\nwarder cp ./notes.md ${id}:/data/`);
  const copy = h('button.secondary', { onclick: () => navigator.clipboard?.writeText(cmds.textContent) }, 'Copy');

  const terminal = terminalCard(id);
  drawHead();
  drawDetails();
  terminal.update(a);
  loadHistory();
  loadConversations();
  watch();
  onRuntime(() => drawHead(), signal);
  followEvents(signal, async ev => {
    if (ev.agent_id !== id) return;
    if (ev.to === 'deleted') { location.hash = '#/agents'; return; }
    try { update(await api('GET', '/api/agents/' + id)); } catch {}
  });
  signal.addEventListener('abort', () => { live?.abort(); terminal.close(); });

  return h('section', { id: 'agent-page', 'data-agent': id }, head, err,
    h('div.card', {}, h('h2', {}, 'Details'), details),
    h('div.cols', {},
      h('div.card', {}, h('h2', {}, 'CPU, memory and network'), h('div.charts', {}, charts.cpu.el, charts.mem.el, charts.net.el), now),
      h('div.card', {}, h('h2', {}, 'Status history'), h('div.table-wrap', {}, h('table', {}, history)))),
    h('div.card', {}, h('div.toolbar', {}, h('h2.flat.grow', {}, 'Logs'), search, pause, download), logsNote, logs),
    terminal.el,
    h('div.card', {}, h('h2', {}, 'Chat'), h('div.chat', {}, convList, h('div', {}, messages, chatErr, chatForm))),
    filesCard(id),
    egressCard(id),
    usageCard(id),
    snapshotsCard(id),
    h('div.card', {}, h('div.toolbar', {}, h('h2.flat.grow', {}, 'From a shell'), copy), cmds));
}
