// The dashboard: a hash router over views, each drawn into <main>. A view
// gets an AbortSignal that ends its streams when the route changes.
import { api, session, APIError } from './api.js';
import { h } from './dom.js';
import { agentsView, agentFormView } from './agents.js';
import { agentView } from './agent.js';
import { usersView, statusView, auditView } from './admin.js';
import { checkRuntime } from './runtime.js';

const main = document.getElementById('main');
let me = null, current = null;

async function whoami() {
  if (!session.token) return null;
  try { return await api('GET', '/api/auth/me'); } catch { return null; }
}

function drawNav() {
  const nav = document.getElementById('nav');
  nav.replaceChildren();
  if (!me) return;
  nav.append(h('a', { href: '#/agents' }, 'Agents'));
  if (me.role === 'admin') nav.append(h('a', { href: '#/admin/users' }, 'Users'), h('a', { href: '#/admin/status' }, 'System'), h('a', { href: '#/admin/audit' }, 'Audit'));
  nav.append(h('span.me', {}, me.username + (me.role === 'admin' ? ' (admin)' : '')),
    h('button.secondary', { id: 'signout', onclick: signOut }, 'Sign out'));
}

async function signOut() {
  try { await api('POST', '/api/auth/logout'); } catch {}
  session.clear(); me = null; location.hash = '#/login';
}

function authForm(register) {
  const err = h('p.error', { role: 'alert' });
  const fields = register
    ? [['username', 'Username', 'text', 'username'], ['email', 'Email', 'email', 'email'], ['password', 'Password', 'password', 'new-password']]
    : [['username', 'Username or email', 'text', 'username'], ['password', 'Password', 'password', 'current-password']];
  const form = h('form.card.narrow', { id: register ? 'register' : 'login' },
    h('h1', {}, register ? 'Create an account' : 'Sign in to Warder'),
    fields.map(([n, l, t, ac]) => [h('label', { for: n }, l), h('input', { id: n, name: n, type: t, autocomplete: ac, required: true })]),
    err, h('p', {}, h('button', { type: 'submit' }, register ? 'Register' : 'Sign in')),
    register ? h('p', {}, h('a', { href: '#/login' }, 'I have an account')) : h('p', {}, h('a', { href: '#/register' }, 'Create an account')));
  form.addEventListener('submit', async e => {
    e.preventDefault();
    err.textContent = '';
    const v = Object.fromEntries(new FormData(form));
    try {
      if (register) await api('POST', '/api/auth/register', v);
      const tok = await api('POST', '/api/auth/login', { username: v.username, password: v.password });
      session.set(tok.access_token);
      me = await whoami();
      location.hash = '#/agents';
      route();
    } catch (x) { err.textContent = x instanceof APIError ? x.detail : String(x); }
  });
  return form;
}

const routes = [
  [/^#\/agents\/new$/, () => agentFormView(null)],
  [/^#\/agents\/([\w-]+)\/edit$/, (m) => agentFormView(m[1])],
  [/^#\/agents\/([\w-]+)$/, (m, ctx) => agentView(m[1], ctx)],
  [/^#\/admin\/users$/, (m, ctx) => usersView(ctx)],
  [/^#\/admin\/status$/, (m, ctx) => statusView(ctx)],
  [/^#\/admin\/audit$/, (m, ctx) => auditView(ctx)],
  [/^#\/agents$/, (m, ctx) => agentsView(ctx)],
];

async function route() {
  if (current) current.abort();
  current = new AbortController();
  const hash = location.hash || '#/agents';
  if (!session.token) me = null; // signed out, or the token was refused
  if (!me) me = await whoami();
  drawNav();
  if (!me) {
    main.replaceChildren(authForm(hash === '#/register'));
    return;
  }
  if (hash === '#/login' || hash === '#/register') { location.hash = '#/agents'; return; }
  if (hash.startsWith('#/admin') && me.role !== 'admin') {
    main.replaceChildren(h('p.error', { id: 'forbidden' }, 'Only admins see this page.'));
    return;
  }
  checkRuntime();
  const ctx = { signal: current.signal, me };
  for (const [re, view] of routes) {
    const m = hash.match(re);
    if (m) {
      try { main.replaceChildren(await view(m, ctx)); } catch (x) {
        main.replaceChildren(h('div.card', { id: 'page-error' }, h('p.error', { role: 'alert' }, x.detail || String(x)), h('p', {}, h('a', { href: '#/agents' }, '← Back to agents'))));
      }
      return;
    }
  }
  main.replaceChildren(h('div.card', { id: 'no-page' }, h('p', {}, 'No such page.'), h('p', {}, h('a', { href: '#/agents' }, '← Back to agents'))));
}

addEventListener('hashchange', route);
route();
