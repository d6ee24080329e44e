// The agent's snapshots: take one, list them with their sizes, restore
// the workspace to one, fork a new agent from one (or from the agent as
// it is now), delete one. The server checks every bound; its refusal is
// shown as it says it.
import { api } from './api.js';
import { h, confirmDialog, bytes, when } from './dom.js';

export function snapshotsCard(id) {
  const base = `/api/agents/${id}/snapshots`;
  const rows = h('tbody', { id: 'snapshots' });
  const use = h('span.muted', { id: 'snapshots-use' });
  const busy = h('span.muted', { id: 'snapshots-busy' });
  const err = h('p.error', { role: 'alert', id: 'snapshots-error' });
  const name = h('input', { id: 'snapshot-name', placeholder: 'snapshot name', 'aria-label': 'Snapshot name', maxlength: 100 });
  const forkName = h('input', { id: 'fork-name', placeholder: 'new agent name', 'aria-label': 'Name of the forked agent', maxlength: 100 });
  const forkStart = h('input', { type: 'checkbox', id: 'fork-start', checked: true });

  // work runs one call with its message shown, then reloads the list.
  async function work(message, call) {
    err.textContent = '';
    busy.textContent = message;
    try { return await call(); } catch (x) { err.textContent = x.detail || String(x); } finally { busy.textContent = ''; load(); }
  }

  async function load() {
    try {
      const l = await api('GET', base);
      use.textContent = `${bytes(l.used_bytes)} used` + (l.limit_bytes > 0 ? ` of ${bytes(l.limit_bytes)}` : '');
      rows.replaceChildren(...l.snapshots.slice().reverse().map(row));
      if (!l.snapshots.length) rows.append(h('tr', {}, h('td.muted', { colspan: 4 }, 'No snapshots yet')));
    } catch (x) { err.textContent = x.detail || String(x); }
  }

  const row = s => h('tr', { 'data-snapshot': s.id, 'data-name': s.name },
    h('td', { title: s.id }, s.name),
    h('td.muted', { title: `workspace: ${bytes(s.workspace_bytes)}` }, bytes(s.size_bytes)),
    h('td.muted.hide-phone', {}, when(s.created_at)),
    h('td.actions', {},
      h('button.secondary', { 'data-action': 'restore', onclick: () => restore(s) }, 'Restore'),
      h('button.secondary', { 'data-action': 'fork', onclick: () => fork(s) }, 'Fork'),
      h('button.danger', { 'data-action': 'delete', onclick: () => remove(s) }, 'Delete')));

  const take = () => work('Taking a snapshot…', async () => {
    await api('POST', base, { name: name.value.trim() });
    name.value = '';
  });

  async function restore(s) {
    if (!await confirmDialog(`Put the workspace back to snapshot "${s.name}"? What is in it now is replaced, and a running agent restarts.`, 'Restore')) return;
    await work(`Restoring ${s.name}…`, () => api('POST', `${base}/${s.id}/restore`));
  }

  // fork makes the new agent (from s, or now) and opens its page.
  async function fork(s) {
    const body = { name: forkName.value.trim(), start: forkStart.checked };
    if (s) body.snapshot = s.id;
    const a = await work(s ? `Forking from ${s.name}…` : 'Forking…', () => api('POST', `/api/agents/${id}/fork`, body));
    if (a && a.id) location.hash = '#/agents/' + a.id;
  }

  async function remove(s) {
    if (!await confirmDialog(`Delete snapshot "${s.name}"?`)) return;
    await work('', () => api('DELETE', `${base}/${s.id}`));
  }

  load();
  return h('div.card', { id: 'snapshots-card' },
    h('div.toolbar', {}, h('h2.flat', {}, 'Snapshots'), use, h('span.grow'),
      h('button.secondary', { id: 'snapshots-refresh', onclick: () => load() }, 'Refresh')),
    h('div.toolbar', {}, name, h('button', { id: 'snapshot-take', onclick: take }, 'Take snapshot'), busy),
    h('div.toolbar', {}, forkName, h('label.flat', { for: 'fork-start' }, forkStart, ' start it'),
      h('button.secondary', { id: 'fork-now', onclick: () => fork(null) }, 'Fork now'),
      h('span.muted', {}, 'or Fork a snapshot below')),
    err, h('div.table-wrap', {}, h('table', {}, rows)));
}
