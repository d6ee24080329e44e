// The Terminal panel: a shell in the running agent through GET
// /api/agents/{id}/terminal, a WebSocket (docs/terminal.md). Binary
// messages carry keys and output; JSON text messages resize and end the
// session. A browser cannot set Authorization on a WebSocket, so the
// token goes as a second subprotocol, warder.token.<token>; the server
// answers with warder.terminal.v1 alone and never logs it.
// xterm.js (vendor/xterm, MIT, from Debian's libjs-xterm) is loaded the
// first time a terminal opens, so pages without one stay small.
import { session } from './api.js';
import { h } from './dom.js';

const PROTOCOL = 'warder.terminal.v1', TOKEN = 'warder.token.';
let xterm = null;

// loadXterm adds xterm.js and its stylesheet to the page once.
function loadXterm() {
  xterm ??= new Promise((resolve, reject) => {
    const base = new URL('./vendor/xterm/', import.meta.url);
    document.head.append(h('link', { rel: 'stylesheet', href: base + 'xterm.css' }));
    const s = h('script', { src: base + 'xterm.js' });
    s.onload = () => resolve(window.Terminal);
    s.onerror = () => { xterm = null; reject(new Error('the terminal could not be loaded')); };
    document.head.append(s);
  });
  return xterm;
}

// terminalCard is the panel; update(agent) enables it while the agent
// runs, and close() ends an open session (the page calls it on leaving).
export function terminalCard(id) {
  const screen = h('div.term', { id: 'terminal' });
  const note = h('p.muted.flat', { id: 'terminal-note' }, 'A shell in the agent: its image\'s /bin/sh, or the default image\'s own small shell.');
  const openBtn = h('button', { id: 'terminal-open', onclick: () => open() }, 'Open terminal');
  const closeBtn = h('button.secondary', { id: 'terminal-close', hidden: true, onclick: () => close() }, 'Close');
  let ws = null, term = null, running = false;
  const onWindowResize = () => fit();

  function fit() {
    if (!term) return;
    term.fit();
    if (ws?.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'resize', cols: term.cols, rows: term.rows }));
  }
  function buttons() {
    openBtn.hidden = !!ws; closeBtn.hidden = !ws;
    openBtn.disabled = !running;
    openBtn.title = running ? '' : 'Start the agent to open a terminal in it';
  }
  async function open() {
    if (ws || !running) return;
    let Terminal;
    try { Terminal = await loadXterm(); } catch (x) { note.textContent = x.message; return; }
    screen.replaceChildren();
    term = new Terminal({ cursorBlink: true, fontSize: 14, scrollback: 1000 });
    term.open(screen);
    screen.xterm = term; // for tests and the browser's console
    term.fit();
    const url = new URL(`/api/agents/${id}/terminal?cols=${term.cols}&rows=${term.rows}`, location.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    ws = new WebSocket(url, [PROTOCOL, TOKEN + session.token]);
    ws.binaryType = 'arraybuffer';
    const decoder = new TextDecoder(), encoder = new TextEncoder();
    let ended = false;
    ws.onopen = () => { note.textContent = 'Connected. Ctrl-D or exit ends the shell.'; screen.dataset.state = 'open'; term.focus(); };
    ws.onmessage = e => {
      if (typeof e.data !== 'string') { term.write(decoder.decode(new Uint8Array(e.data), { stream: true })); return; }
      const m = JSON.parse(e.data);
      ended = true;
      if (m.type === 'exit') note.textContent = m.reason === 'exited' ? `The shell exited with code ${m.exit_code}.`
        : `The terminal was closed ${m.reason === 'idle' ? 'after its idle timeout' : 'at the longest session allowed'}.`;
      else if (m.type === 'error') note.textContent = m.detail;
    };
    ws.onclose = e => {
      // A refused upgrade (409, 403, 429...) shows only as a close.
      if (!ended) note.textContent = e.code === 1006 ? 'The terminal could not be opened: is the agent running, and are its commands at their bound?' : `The terminal closed (${e.code}).`;
      screen.dataset.state = 'closed';
      ws = null; buttons();
    };
    term.on('data', d => { if (ws?.readyState === WebSocket.OPEN) ws.send(encoder.encode(d)); });
    window.addEventListener('resize', onWindowResize);
    buttons();
  }
  function close() {
    window.removeEventListener('resize', onWindowResize);
    ws?.close(); ws = null;
    buttons();
  }
  buttons();
  return {
    el: h('div.card', { id: 'terminal-card' }, h('div.toolbar', {}, h('h2.flat.grow', {}, 'Terminal'), openBtn, closeBtn), note, screen),
    update(agent) { running = agent.status === 'running'; if (!running && ws) close(); buttons(); },
    close,
  };
}
