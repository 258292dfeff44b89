// The dashboard's entry point: asks for a key when the server needs one, opens the
// live stream, and shows one view at a time by the URL's #fragment:
// #/ (overview), #/task/<id>, #/dead/<queue>?kind=<kind>, #/schedules, #/kinds.

import * as api from './api.js';
import { DeadLetters } from './dead.js';
import { el, fill, tick } from './format.js';
import { showKinds } from './kinds.js';
import { Overview } from './overview.js';
import { Schedules } from './schedules.js';
import { Stream } from './stream.js';
import { TaskView } from './task.js';

const $ = (id) => document.getElementById(id);
const VIEWS = ['overview', 'task', 'dead', 'schedules', 'kinds'];
const page = { config: { keys_required: false, schedules: false }, viewer: { key_id: null, scopes: [] }, queues: [] };

const viewer = () => page.viewer;
const queueNames = async () => {
  if (page.queues.length) return page.queues;
  const list = await api.get('queues?limit=1000').catch(() => ({ queues: [] }));
  return list.queues.map((q) => q.name);
};
const overview = new Overview($('view-overview'));
const task = new TaskView($('view-task'), viewer);
const dead = new DeadLetters($('view-dead'), viewer, queueNames);
const schedules = new Schedules($('view-schedules'), viewer, () => page.config.schedules);

const stream = new Stream({
  snapshot(view) {
    page.viewer = view.viewer;
    page.queues = view.queues.map((q) => q.name);
    overview.show(view);
    banner(view.redis_error ? `Redis cannot be read (${view.redis_error}); the numbers shown are the last ones read.` : '');
    $('viewer').textContent = view.viewer.key_id
      ? `key ${view.viewer.key_id} · ${view.viewer.scopes.join(', ')}`
      : 'open API (no keys)';
    $('live').title = `last snapshot ${new Date(view.at).toLocaleTimeString()} (#${view.seq})`;
  },
  status(kind, detail) {
    const live = $('live');
    live.className = `live live-${kind}`;
    live.textContent = { live: 'live', waiting: detail, busy: 'busy, retrying', auth: 'key needed', forbidden: 'no access' }[kind] || kind;
    live.title = kind === 'busy' ? detail : live.title;
    if (kind === 'auth') login(page.viewer.key_id || api.key() ? 'The key was refused; enter a valid one.' : '');
    if (kind === 'forbidden') banner(`This key cannot watch the dashboard: ${detail}`);
  },
});

function banner(text) {
  const box = $('banner');
  box.hidden = !text;
  box.textContent = text;
}

/** Shows the key form (with a reason), and nothing else. */
function login(reason) {
  stream.stop();
  $('app').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = reason;
  $('login-key').value = '';
  $('login-key').focus();
}

function begin() {
  $('login').hidden = true;
  $('app').hidden = false;
  $('forget').hidden = !api.key();
  stream.start();
  route();
}

/** Shows the view the #fragment names. */
function route() {
  const [path, query = ''] = location.hash.replace(/^#\/?/, '').split('?');
  const [first, ...rest] = path.split('/');
  const name = VIEWS.includes(first) ? first : 'overview';
  for (const view of VIEWS) $(`view-${view}`).hidden = view !== name;
  for (const link of document.querySelectorAll('#tabs a')) {
    link.classList.toggle('current', link.dataset.tab === name);
  }
  task.close();
  schedules.hide();
  const arg = decodeURIComponent(rest.join('/'));
  if (name === 'task') task.open(arg);
  if (name === 'dead') dead.open(arg, new URLSearchParams(query).get('kind') || '');
  if (name === 'schedules') schedules.show();
  if (name === 'kinds') showKinds($('view-kinds'));
}

$('login-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const secret = $('login-key').value.trim();
  if (!secret) return;
  api.setKey(secret);
  begin();
});
$('forget').addEventListener('click', () => {
  api.setKey(null);
  page.viewer = { key_id: null, scopes: [] };
  page.queues = [];
  login('');
});
api.onUnauthorized(() => login('The key was refused; enter a valid one.'));
window.addEventListener('hashchange', route);
// A tab in the background gives its stream back after a minute (streams per process are
// limited, and nobody watching means no snapshots at all); it resumes when shown again.
let hiddenTimer = null;
document.addEventListener('visibilitychange', () => {
  clearTimeout(hiddenTimer);
  if (document.hidden) {
    hiddenTimer = setTimeout(() => {
      stream.stop();
      stream.handlers.status('waiting', 'paused while hidden');
    }, 60_000);
  }
  else if (!stream.running && !$('app').hidden) stream.start();
});
setInterval(tick, 1000);

async function start() {
  try {
    page.config = await api.config();
  } catch {
    // An older server without /ui/config: try the stream; a 401 asks for a key.
  }
  fill($('version'), el('span', {}, page.config.version ? `ttp ${page.config.version}` : 'ttp'));
  // The tab of an API this server does not have is left out.
  document.querySelector('#tabs a[data-tab="schedules"]').hidden = !page.config.schedules;
  if (page.config.keys_required && !api.key()) login('');
  else begin();
}

start();
