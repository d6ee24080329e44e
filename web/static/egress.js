// The agent's egress: the policy in force (container_config.egress, or
// what its network means) and what the egress proxy refused in the last
// day, by destination and reason (GET /api/agents/{id}/egress).
import { api } from './api.js';
import { h, when } from './dom.js';

// egressText is container_config.egress as the details show it: a word
// ("none", "all") or the list; an agent without one, its network's meaning.
export function egressText(c) {
  const e = c.egress;
  if (Array.isArray(e)) return e.length ? e.join(', ') : 'none';
  if (typeof e === 'string') return e;
  return (c.network === 'internal' ? 'none' : 'all') + ' (from its network)';
}

export function egressCard(id) {
  const policy = h('p', { id: 'egress-policy' });
  const rows = h('tbody', { id: 'egress-refusals' });
  async function load() {
    try {
      const e = await api('GET', `/api/agents/${id}/egress`);
      const list = Array.isArray(e.egress) ? e.egress.join(', ') : e.egress;
      policy.replaceChildren(h('code', {}, list), ' ', h('span.muted', {}, e.proxied ? '(through the egress proxy)' : `(network ${e.network})`));
      rows.replaceChildren(...e.refusals.map(r => h('tr', {}, h('td', {}, h('code', {}, r.destination)), h('td', {}, r.reason),
        h('td', {}, String(r.count)), h('td.hide-phone', {}, when(r.last)))));
      if (!e.refusals.length) rows.replaceChildren(h('tr', {}, h('td.muted', { colspan: 4 }, 'Nothing refused in the last day.')));
    } catch (x) { policy.replaceChildren(h('span.error', {}, x.detail || String(x))); }
  }
  load();
  return h('div.card', { id: 'egress' }, h('div.toolbar', {}, h('h2.flat.grow', {}, 'Egress'), h('button.secondary', { onclick: load }, 'Refresh')),
    policy, h('div.table-wrap', {}, h('table', {}, rows)));
}
