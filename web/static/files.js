// The agent's workspace (/data), with the files API: browse directories,
// download a file (or the directory as a tar), upload files into the
// directory shown, delete. A download is fetched with the token and saved
// from a blob, since a plain link cannot send it.
import { api, raw } from './api.js';
import { h, confirmDialog, bytes, when } from './dom.js';

// enc is a workspace path as URL path segments.
const enc = p => p.split('/').map(encodeURIComponent).join('/');

export function filesCard(id) {
  const base = `/api/agents/${id}/files/`;
  let dir = '';
  const where = h('code', { id: 'files-path' }, '/data/');
  const busy = h('span.muted', { id: 'files-busy' });
  const rows = h('tbody', { id: 'files' });
  const err = h('p.error', { role: 'alert', id: 'files-error' });
  const fail = x => { err.textContent = x.detail || String(x); };

  async function load(to) {
    try {
      const l = await api('GET', base + enc(to));
      dir = l.path || '';
      where.textContent = '/data/' + dir;
      l.entries.sort((a, b) => (b.type === 'dir') - (a.type === 'dir') || a.name.localeCompare(b.name));
      const up = dir && h('tr', {}, h('td', { colspan: 4 }, h('button.link', { 'data-action': 'up', onclick: () => open(dir.split('/').slice(0, -1).join('/')) }, '↑ ..')));
      rows.replaceChildren(...[up, ...l.entries.map(row)].filter(Boolean));
      if (!l.entries.length) rows.append(h('tr', {}, h('td.muted', { colspan: 4 }, 'Empty')));
    } catch (x) { fail(x); }
  }
  const open = to => { err.textContent = ''; load(to); };

  const row = e => h('tr', { 'data-file': e.name, 'data-type': e.type },
    h('td', {}, e.type === 'dir' ? h('button.link', { 'data-action': 'open', onclick: () => open(e.path) }, e.name + '/')
      : e.type === 'file' ? h('button.link', { 'data-action': 'download', title: 'Download', onclick: () => download(e.path, e.name) }, e.name)
        : h('span.muted', { title: e.type }, e.name)),
    h('td.muted', {}, e.type === 'dir' ? '' : bytes(e.size)),
    h('td.muted.hide-phone', {}, e.mod_time ? when(e.mod_time) : null),
    h('td.actions', {}, h('button.danger', { 'data-action': 'delete', onclick: () => remove(e) }, 'Delete')));

  async function download(path, name, query = '') {
    err.textContent = '';
    busy.textContent = `Downloading ${name}…`;
    try {
      const url = URL.createObjectURL(await (await raw('GET', base + enc(path) + query)).blob());
      h('a', { href: url, download: name }).click();
      setTimeout(() => URL.revokeObjectURL(url), 1000);
    } catch (x) { fail(x); }
    busy.textContent = '';
  }

  async function remove(e) {
    err.textContent = '';
    const what = e.type === 'dir' ? `the directory /data/${e.path} and everything in it` : `/data/${e.path}`;
    if (!await confirmDialog(`Delete ${what}?`)) return;
    try { await api('DELETE', base + enc(e.path)); } catch (x) { fail(x); }
    load(dir);
  }

  // Upload: each chosen file, as its bytes, into the directory shown.
  const input = h('input', { type: 'file', id: 'files-upload', multiple: true, 'aria-label': 'Upload files into this directory' });
  input.addEventListener('change', async () => {
    err.textContent = '';
    for (const f of input.files) {
      busy.textContent = `Uploading ${f.name} (${bytes(f.size)})…`;
      try { await raw('PUT', base + enc(dir ? dir + '/' + f.name : f.name), f); } catch (x) { fail(x); break; }
    }
    busy.textContent = '';
    input.value = '';
    load(dir);
  });

  load('');
  return h('div.card', { id: 'files-card' },
    h('div.toolbar', {}, h('h2.flat', {}, 'Files'), where, h('span.grow'),
      h('button.secondary', { id: 'files-refresh', onclick: () => open(dir) }, 'Refresh'),
      h('button.secondary', { id: 'files-tar', onclick: () => download(dir, (dir.split('/').pop() || 'workspace') + '.tar', '?format=tar') }, 'Download as tar')),
    h('div.toolbar', {}, h('label.flat', { for: 'files-upload' }, 'Upload'), input, busy),
    err, h('div.table-wrap', {}, h('table', {}, rows)));
}
