// The agent's LLM gateway usage: tokens today and this month (UTC), by
// model, against the agent's budget and its owner's (GET
// /api/agents/{id}/usage). Without a gateway it says so.
import { api } from './api.js';
import { h } from './dom.js';

// spent is "45 of 100" or "45" without a budget.
const spent = (n, limit) => limit > 0 ? `${n} of ${limit}` : String(n);

export function usageCard(id) {
  const summary = h('p', { id: 'usage-summary' });
  const rows = h('tbody', { id: 'usage-models' });
  async function load() {
    try {
      const u = await api('GET', `/api/agents/${id}/usage`);
      if (!u.gateway) {
        summary.replaceChildren(h('span.muted', {}, 'This server has no LLM gateway: nothing is metered.'));
        rows.replaceChildren();
        return;
      }
      const b = u.budget || {}, ub = u.user_budget || {};
      summary.replaceChildren(
        h('span', { id: 'usage-today' }, `Today: ${spent(u.today.total_tokens, b.tokens_per_day)} tokens`), ' · ',
        h('span', { id: 'usage-month' }, `this month: ${spent(u.this_month.total_tokens, b.tokens_per_month)}`), ' · ',
        h('span.muted', { id: 'usage-owner' }, `its owner, all agents: ${spent(u.user_today?.total_tokens ?? 0, ub.tokens_per_day)} today, ` +
          `${spent(u.user_this_month?.total_tokens ?? 0, ub.tokens_per_month)} this month`));
      rows.replaceChildren(...u.models.map(m => h('tr', { 'data-model': m.model }, h('td', {}, h('code', {}, m.model)),
        h('td', {}, String(m.today.total_tokens)), h('td', {}, String(m.this_month.total_tokens)), h('td.hide-phone', {}, String(m.this_month.requests)))));
      if (!u.models.length) rows.replaceChildren(h('tr', {}, h('td.muted', { colspan: 4 }, 'Nothing spent this month.')));
    } catch (x) { summary.replaceChildren(h('span.error', {}, x.detail || String(x))); }
  }
  load();
  return h('div.card', { id: 'usage' }, h('div.toolbar', {}, h('h2.flat.grow', {}, 'LLM usage'), h('button.secondary', { onclick: load }, 'Refresh')),
    summary, h('div.table-wrap', {}, h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'Model'), h('th', {}, 'Today'), h('th', {}, 'This month'), h('th.hide-phone', {}, 'Requests'))), rows)));
}
