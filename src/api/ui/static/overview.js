// The overview: totals, the throughput chart, and one row per queue, updated in place
// from each snapshot (rebuilding rows every second would swallow clicks on them).

import { post } from './api.js';
import { Chart } from './chart.js';
import { count, duration, el, fill, rate, toast } from './format.js';

const COLUMNS = [
  ['queued', 'Queued', count],
  ['scheduled', 'Scheduled', count, 'opt'],
  ['running', 'Running', count],
  ['dead', 'Dead', count],
  ['in_per_s', 'In/s', rate],
  ['out_per_s', 'Out/s', rate],
  ['p99_ms', 'p99 (this process)', duration, 'opt'],
];

export class Overview {
  constructor(host) {
    this.rows = new Map();
    this.viewer = null;
    this.tiles = el('div', { class: 'tiles' });
    this.empty = el('div', { class: 'empty', hidden: true });
    this.body = el('tbody');
    const chartHost = el('div', { class: 'chart' });
    const head = el('tr', {},
      el('th', {}, 'Queue'), el('th', {}, 'State'),
      COLUMNS.map(([, title, , opt]) => el('th', { class: `num ${opt || ''}`, title: title.startsWith('p99') ? 'end-to-end, tasks this process finished in the last minute' : null }, title)),
      el('th', { class: 'actions' }, ''));
    fill(host,
      this.tiles,
      chartHost,
      this.empty,
      el('div', { class: 'table-wrap' }, el('table', { id: 'queues' }, el('thead', {}, head), this.body)),
      el('p', { class: 'footnote' },
        'Counts and rates come from Redis: the whole deployment. p99 (submitted → finished, last minute) and busy workers are this process’s.'));
    this.chart = new Chart(chartHost);
  }

  /** Shows one snapshot. */
  show(view) {
    if (this.viewer?.key_id !== view.viewer.key_id) this.chart.clear();
    this.viewer = view.viewer;
    const queues = view.queues;
    const sum = (field) => queues.reduce((n, q) => (q[field] === null ? n : n + q[field]), 0);
    const anyRate = queues.some((q) => q.in_per_s !== null);
    this.tiles.replaceChildren(
      tile('Queues', count(queues.length)),
      tile('Queued', count(sum('queued'))),
      tile('Running', count(sum('running'))),
      tile('Dead', count(sum('dead'))),
      tile('In/s', anyRate ? rate(sum('in_per_s')) : '—'),
      tile('Out/s', anyRate ? rate(sum('out_per_s')) : '—'),
      tile('Busy workers', `${count(view.process.workers_busy)} / ${count(view.process.concurrency)}`, 'this process'),
    );
    if (view.at) this.chart.add(view.at, anyRate ? sum('in_per_s') : null, anyRate ? sum('out_per_s') : null);
    this.showEmpty(queues.length === 0);
    const seen = new Set();
    for (const queue of queues) {
      seen.add(queue.name);
      this.update(queue);
    }
    for (const [name, row] of this.rows) {
      if (!seen.has(name)) {
        row.tr.remove();
        this.rows.delete(name);
      }
    }
  }

  showEmpty(empty) {
    this.empty.hidden = !empty;
    if (!empty) return;
    const auth = this.viewer?.key_id ? " -H 'authorization: Bearer <your key>'" : '';
    const command = `curl -X POST ${location.origin}/tasks -H 'content-type: application/json'${auth} -d '{"kind":"echo","payload":{"hello":"world"}}'`;
    fill(this.empty,
      el('p', {}, el('strong', {}, 'No queues yet'), ' — submit a task and its queue appears here:'),
      el('pre', { class: 'command' }, command),
      this.viewer?.key_id ? el('p', { class: 'muted' }, 'Only the queues your key may read are shown.') : null);
  }

  /** Updates (or adds) one queue's row. */
  update(queue) {
    let row = this.rows.get(queue.name);
    if (!row) {
      row = this.addRow(queue.name);
      const after = [...this.rows.keys()].sort().find((n) => n > queue.name);
      this.body.insertBefore(row.tr, after ? this.rows.get(after).tr : null);
      this.rows.set(queue.name, row);
    }
    row.last = queue;
    for (const [field, , format] of COLUMNS) row.cells[field].textContent = format(queue[field]);
    row.dead.href = `#/dead/${encodeURIComponent(queue.name)}`;
    row.state.textContent = queue.paused ? 'paused' : 'active';
    row.state.className = `state ${queue.paused ? 'state-paused' : 'state-active'}`;
    row.paused = queue.paused;
    row.button.textContent = queue.paused ? 'Resume' : 'Pause';
    const admin = this.viewer?.scopes.includes('admin');
    row.button.disabled = !admin || row.busy;
    row.button.title = admin ? '' : 'needs a key with the admin scope';
    row.tr.classList.toggle('paused', queue.paused);
  }

  addRow(name) {
    const cells = {};
    const dead = el('a', { title: 'dead letters' });
    const row = { cells, dead, state: el('span'), paused: false, busy: false };
    row.button = el('button', { class: 'small', onclick: () => this.toggle(name, row) });
    row.tr = el('tr', { dataset: { queue: name } },
      el('td', { class: 'name' }, name),
      el('td', {}, row.state),
      COLUMNS.map(([field, , , opt]) => {
        cells[field] = el('span');
        const content = field === 'dead' ? (dead.append(cells[field]), dead) : cells[field];
        return el('td', { class: `num ${opt || ''}`, dataset: { col: field } }, content);
      }),
      el('td', { class: 'actions' }, row.button));
    return row;
  }

  async toggle(name, row) {
    const action = row.paused ? 'resume' : 'pause';
    row.busy = true;
    row.button.disabled = true;
    try {
      const queue = await post(`queues/${encodeURIComponent(name)}/${action}`);
      toast(`${name}: ${queue.paused ? 'paused' : 'resumed'}`);
      row.busy = false;
      this.update({ ...row.last, paused: queue.paused });
    } catch (e) {
      row.busy = false;
      row.button.disabled = false;
      toast(`${name}: ${e.message}`, 'error');
    }
  }
}

function tile(label, value, note) {
  return el('div', { class: 'tile' },
    el('span', { class: 'tile-label' }, label, note ? el('small', {}, ` (${note})`) : null),
    el('span', { class: 'tile-value' }, value));
}
