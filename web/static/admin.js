// Admin pages: users (disable, enable, limits), system status, audit log.
import { api } from './api.js';
import { h, when } from './dom.js';

const LIMITS = [['agents', 'Agents'], ['running_agents', 'Running'], ['memory_bytes', 'Memory (bytes)'], ['cpus', 'CPUs'], ['agent_memory_bytes', 'Per-agent memory'], ['agent_cpus', 'Per-agent CPUs'],
  ['llm_tokens_per_day', 'LLM tokens a day'], ['llm_tokens_per_month', 'LLM tokens a month'], ['agent_llm_tokens_per_day', 'Per-agent LLM tokens a day'], ['agent_llm_tokens_per_month', 'Per-agent LLM tokens a month']];

export async function usersView() {
  const err = h('p.error', { role: 'alert', id: 'users-error' });
  const tbody = h('tbody');
  const limitsBox = h('div');
  async function load() {
    const users = await api('GET', '/api/admin/users');
    tbody.replaceChildren(...users.map(u => h('tr', { 'data-user': u.username },
      h('td', {}, u.username), h('td.hide-phone', {}, u.email), h('td', {}, u.role),
      h('td', { class: 'state' }, u.disabled ? 'disabled' : 'active'),
      h('td.actions', {},
        h('button' + (u.disabled ? '' : '.danger'), { 'data-action': u.disabled ? 'enable' : 'disable', onclick: () => toggle(u), 'aria-label': `${u.disabled ? 'Enable' : 'Disable'} ${u.username}` }, u.disabled ? 'Enable' : 'Disable'), ' ',
        h('button.secondary', { 'data-action': 'limits', onclick: () => limits(u) }, 'Limits')))));
  }
  async function toggle(u) {
    err.textContent = '';
    try { await api('POST', `/api/admin/users/${u.id}/${u.disabled ? 'enable' : 'disable'}`); await load(); } catch (x) { err.textContent = x.detail || String(x); }
  }
  async function limits(u) {
    const l = await api('GET', `/api/admin/users/${u.id}/limits`);
    const form = h('form.card', { id: 'limits' }, h('h2', {}, 'Limits of ' + u.username), h('p.muted', {}, 'Empty: the server default. In use: ' + JSON.stringify(l.used)),
      h('div.grid', {}, LIMITS.map(([k, label]) => h('div', {}, h('label', { for: 'limit-' + k }, label), h('input', { id: 'limit-' + k, name: k, value: l.limits[k] ?? '', inputmode: 'decimal' })))),
      h('p.error', { role: 'alert' }), h('button', { type: 'submit' }, 'Save'));
    form.addEventListener('submit', async e => {
      e.preventDefault();
      const body = {};
      for (const [k] of LIMITS) body[k] = form.elements[k].value.trim() === '' ? null : Number(form.elements[k].value);
      try { await api('PUT', `/api/admin/users/${u.id}/limits`, body); limitsBox.replaceChildren(h('p.muted', { id: 'limits-saved' }, 'Saved.')); } catch (x) { form.querySelector('.error').textContent = x.detail; }
    });
    limitsBox.replaceChildren(form);
  }
  // Admins create accounts (the way in when WARDER_REGISTRATION=closed).
  const createErr = h('p.error', { role: 'alert', id: 'create-user-error' });
  const create = h('form.toolbar', { id: 'create-user' },
    h('input', { name: 'username', placeholder: 'Username', 'aria-label': 'New user name', required: true, autocomplete: 'off' }),
    h('input', { name: 'email', type: 'email', placeholder: 'Email', 'aria-label': 'New user email', required: true, autocomplete: 'off' }),
    h('input', { name: 'password', type: 'password', placeholder: 'Password', 'aria-label': 'New user password', required: true, autocomplete: 'new-password' }),
    h('button', { type: 'submit' }, 'Create user'));
  create.addEventListener('submit', async e => {
    e.preventDefault();
    createErr.textContent = '';
    try { await api('POST', '/api/admin/users', Object.fromEntries(new FormData(create))); create.reset(); await load(); } catch (x) { createErr.textContent = x.detail || String(x); }
  });
  await load();
  return h('section', {}, h('h1', {}, 'Users'), create, createErr, err,
    h('div.table-wrap', {}, h('table', { id: 'users' }, h('thead', {}, h('tr', {}, h('th', {}, 'User'), h('th.hide-phone', {}, 'Email'), h('th', {}, 'Role'), h('th', {}, 'State'), h('th', {}, ''))), tbody)),
    limitsBox);
}

export async function statusView() {
  const s = await api('GET', '/api/system/status');
  const rows = Object.entries(s).map(([k, v]) => [h('dt', {}, k.replaceAll('_', ' ')), h('dd', {}, typeof v === 'object' ? Object.entries(v || {}).map(([a, b]) => `${a}: ${b}`).join(', ') || '—' : String(v))]);
  return h('section', {}, h('h1', {}, 'System status'), h('dl.kv.card', { id: 'system' }, rows));
}

export async function auditView() {
  const tbody = h('tbody', { id: 'audit' });
  const err = h('p.error', { role: 'alert' });
  const form = h('form.toolbar', {},
    h('input', { name: 'user', placeholder: 'User (name or id)', 'aria-label': 'User' }),
    h('input', { name: 'agent', placeholder: 'Agent id', 'aria-label': 'Agent' }),
    h('input', { name: 'since', placeholder: 'Since (e.g. 1h)', 'aria-label': 'Since' }),
    h('button', { type: 'submit' }, 'Filter'));
  async function load() {
    err.textContent = '';
    const q = new URLSearchParams([...new FormData(form)].filter(([, v]) => v));
    q.set('limit', '200');
    try {
      const [{ entries }, agents] = await Promise.all([api('GET', '/api/audit?' + q), api('GET', '/api/agents').catch(() => [])]);
      // An agent that still exists is named and linked; a deleted one
      // keeps its id.
      const names = new Map(agents.map(a => [a.id, a.name]));
      const agent = id => !id ? '' : names.has(id) ? h('a', { href: `#/agents/${id}`, 'data-agent': id }, names.get(id)) : h('span.muted', { title: 'deleted' }, id);
      tbody.replaceChildren(...entries.map(e => h('tr', {}, h('td', {}, when(e.at)), h('td', {}, e.username), h('td', {}, e.action),
        h('td.hide-phone', {}, agent(e.agent_id)), h('td', {}, e.status), h('td', {}, e.result))));
    } catch (x) { err.textContent = x.detail; }
  }
  form.addEventListener('submit', e => { e.preventDefault(); load(); });
  await load();
  return h('section', {}, h('h1', {}, 'Audit log'), form, err,
    h('div.table-wrap', {}, h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'When'), h('th', {}, 'User'), h('th', {}, 'Action'), h('th.hide-phone', {}, 'Agent'), h('th', {}, 'Status'), h('th', {}, 'Result'))), tbody)));
}
