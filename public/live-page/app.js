// The live page: connection counts (polled from /live-page/summary.json) and a topic viewer
// that is a WAMP client of this gateway over /ws.
import { WampClient } from './wamp.js';

const $ = (id) => document.getElementById(id);
const MAX_ROWS = 200;
const PROTOCOLS = ['stomp', 'mqtt', 'wamp'];

// ---- connections ------------------------------------------------------------------------

let previous = null;

async function poll() {
  try {
    const res = await fetch('/live-page/summary.json', { cache: 'no-store' });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    render(await res.json());
  } catch (err) {
    $('node').textContent = `summary unavailable (${err.message})`;
  }
}

function render(s) {
  $('node').textContent = `node ${s.node} · up ${formatUptime(s.uptimeSeconds)}`;
  const fabric = $('fabric');
  fabric.textContent = `${s.fabric.kind} fabric · ${s.fabric.connected ? (s.fabric.blocked ? 'blocked' : 'connected') : 'down'}`;
  fabric.className = `pill ${s.fabric.connected && !s.fabric.blocked ? 'ok' : 'bad'}`;
  $('count-total').textContent = s.connections.total;
  const transports = Object.entries(s.connections.byTransport).map(([t, n]) => `${n} ${t}`).join(' · ');
  $('transports').textContent = transports || 'no clients';
  const now = Date.now();
  for (const p of PROTOCOLS) {
    $(`count-${p}`).textContent = s.connections.byProtocol[p];
    const subs = s.subscriptions[p];
    let rate = '';
    if (previous) {
      const dt = (now - previous.at) / 1000;
      const inRate = (s.messages.received[p] - previous.s.messages.received[p]) / dt;
      const outRate = (s.messages.delivered[p] - previous.s.messages.delivered[p]) / dt;
      rate = ` · ${formatRate(inRate)} in · ${formatRate(outRate)} out`;
    }
    $(`detail-${p}`).textContent = `${subs} subscription${subs === 1 ? '' : 's'}${rate}`;
  }
  previous = { at: now, s };
}

function formatRate(r) {
  return `${r >= 10 ? Math.round(r) : Math.max(0, r).toFixed(1)}/s`;
}

function formatUptime(seconds) {
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  return `${Math.floor(seconds / 3600)}h ${Math.floor((seconds % 3600) / 60)}m`;
}

// ---- WAMP -------------------------------------------------------------------------------

const wsUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
let client = null;
let watching = null; // { id, topic, match, label }
let credentials = null;
let retryMs = 500;

function setStatus(text, ok) {
  const el = $('wamp-status');
  el.textContent = text;
  el.className = `pill ${ok ? 'ok' : 'bad'}`;
}

async function connect() {
  const c = new WampClient(wsUrl, $('realm').value.trim() || 'realm1');
  setStatus('connecting…', false);
  try {
    const welcome = await c.connect(credentials);
    client = c;
    retryMs = 500;
    setStatus(`WAMP session ${welcome.authid} on ${welcome.realm}`, true);
    $('signin').hidden = true;
    c.onclose = () => {
      client = null;
      watching = null;
      setWatching();
      setStatus('disconnected · reconnecting', false);
      setTimeout(connect, retryMs);
    };
    if (lastWatch) await watch(lastWatch);
  } catch (err) {
    const authProblem = /authentication|auth_method|not_authorized/.test(err.uri || '');
    if (authProblem) {
      setStatus(credentials ? 'sign-in refused' : 'sign in to watch topics', false);
      $('signin').hidden = false;
      return;
    }
    setStatus(`cannot connect (${err.uri || err.message}) · retrying`, false);
    retryMs = Math.min(retryMs * 2, 10_000);
    setTimeout(connect, retryMs);
  }
}

$('signin').addEventListener('submit', (e) => {
  e.preventDefault();
  credentials = { authid: $('user').value.trim(), ticket: $('password').value };
  $('password').value = '';
  client?.close();
  connect();
});

// Patterns as people type them: WAMP (exact/prefix/wildcard), AMQP (a.*.c, a.#) or MQTT
// (a/+/c, a/#). "auto" picks the WAMP match policy for them.
function parsePattern(input, mode) {
  let text = input.trim();
  if (mode !== 'auto') return { topic: text, match: mode };
  if (text.includes('/')) text = text.replaceAll('/', '.');
  if (text === '#' || text === '') return { topic: '', match: 'prefix' };
  let parts = text.split('.');
  if (parts.at(-1) === '#') {
    if (parts.slice(0, -1).some((p) => p === '*' || p === '+')) throw new Error('a pattern with both * and # has no WAMP equivalent');
    return { topic: `${parts.slice(0, -1).join('.')}.`, match: 'prefix' };
  }
  if (parts.includes('#')) throw new Error('# may only come last');
  if (parts.some((p) => p === '*' || p === '+')) return { topic: parts.map((p) => (p === '*' || p === '+' ? '' : p)).join('.'), match: 'wildcard' };
  return { topic: text, match: 'exact' };
}

let lastWatch = null;

async function watch(request) {
  lastWatch = request;
  if (!client) return;
  const { topic, match } = parsePattern(request.pattern, request.mode);
  if (watching) {
    const old = watching;
    watching = null;
    await client.unsubscribe(old.id).catch(() => undefined);
  }
  const id = await client.subscribe(topic, match, onEvent);
  watching = { id, topic, match };
  setWatching();
}

function setWatching() {
  const el = $('watching');
  if (!watching) {
    el.textContent = 'not watching';
    return;
  }
  const what = watching.match === 'prefix' && watching.topic === '' ? 'every topic' : `${watching.match} “${watching.topic}”`;
  el.textContent = `watching ${what}`;
}

$('watch').addEventListener('submit', async (e) => {
  e.preventDefault();
  $('watch-error').textContent = '';
  try {
    await watch({ pattern: $('pattern').value, mode: $('match').value });
  } catch (err) {
    $('watch-error').textContent = err.uri ? `${err.uri}${err.message && err.message !== err.uri ? `: ${err.message}` : ''}` : err.message;
  }
});

let paused = false;
$('pause').addEventListener('click', () => {
  paused = !paused;
  $('pause').textContent = paused ? 'Resume' : 'Pause';
  updateEmpty();
});

// another realm: leave this session; the reconnect joins the new one
$('realm').addEventListener('change', () => {
  if (client) client.close();
  else connect();
});
$('clear').addEventListener('click', () => {
  $('rows').replaceChildren();
  received = 0;
  updateEmpty();
});

function onEvent(e) {
  if (paused) return;
  received += 1;
  const topic = e.details.topic || (watching && watching.topic) || '';
  const row = document.createElement('tr');
  const time = document.createElement('td');
  time.className = 'time';
  time.textContent = new Date().toLocaleTimeString([], { hour12: false }) + '.' + String(Date.now() % 1000).padStart(3, '0');
  const topicCell = document.createElement('td');
  topicCell.className = 'topic';
  topicCell.textContent = topic;
  const payload = document.createElement('td');
  payload.className = 'payload';
  const pre = document.createElement('pre');
  pre.textContent = formatPayload(e.args, e.kwargs);
  payload.append(pre);
  row.append(time, topicCell, payload);
  $('rows').prepend(row);
  while ($('rows').children.length > MAX_ROWS) $('rows').lastChild.remove();
  updateEmpty();
}

function formatPayload(args, kwargs) {
  const hasKw = kwargs && Object.keys(kwargs).length > 0;
  const value = !hasKw && args.length === 1 ? args[0] : hasKw ? { args, kwargs } : args;
  if (typeof value === 'string') return value.startsWith('\u0000') ? `(binary, ${Math.floor(((value.length - 1) * 3) / 4)} bytes)` : value;
  return JSON.stringify(value, null, 2);
}

let received = 0;

function updateEmpty() {
  const shown = $('rows').children.length;
  $('empty').hidden = shown > 0;
  $('message-count').textContent = received === 0 ? 'no messages yet' : `${received} message${received === 1 ? '' : 's'}${received > shown ? ` · showing the latest ${shown}` : ''}${paused ? ' · paused' : ''}`;
}

// ---- publish ----------------------------------------------------------------------------

$('publish').addEventListener('submit', async (e) => {
  e.preventDefault();
  const result = $('publish-result');
  result.className = 'result';
  if (!client) {
    result.textContent = 'not connected';
    return;
  }
  const text = $('payload').value;
  let value = text;
  try {
    value = JSON.parse(text);
  } catch {
    // not JSON: publish the text as it is
  }
  try {
    const id = await client.publish($('pub-topic').value.trim(), text === '' ? undefined : [value], { exclude_me: false });
    result.textContent = `published (publication ${id})`;
    result.className = 'result ok';
  } catch (err) {
    result.textContent = err.uri || err.message;
    result.className = 'result bad';
  }
});

poll();
setInterval(poll, 2000);
connect();
updateEmpty();
