// A queue's dead letters, newest first, a page at a time, optionally one kind: retry
// one, or every task of the page.

import { get, post } from './api.js';
import { el, fill, taskLink, time, toast } from './format.js';

const PAGE = 20;

export class DeadLetters {
  constructor(host, viewer, queues) {
    this.viewer = viewer;
    this.queues = queues;
    this.queue = null;
    this.kind = '';
    this.cursors = [null];
    this.page = null;
    this.pick = el('select', { id: 'dead-queue', onchange: () => this.go(this.pick.value, this.kind) });
    this.kinds = el('select', { id: 'dead-kind', onchange: () => this.go(this.queue, this.kinds.value) });
    this.retryAll = el('button', { id: 'dead-retry-page', onclick: () => this.retryPage() }, 'Retry this page');
    this.prev = el('button', { onclick: () => this.move(-1) }, '← Newer');
    this.next = el('button', { onclick: () => this.move(1) }, 'Older →');
    this.body = el('div');
    fill(host,
      el('div', { class: 'toolbar' },
        el('label', {}, 'Queue ', this.pick),
        el('label', {}, 'Kind ', this.kinds),
        this.retryAll),
      this.body,
      el('div', { class: 'pager' }, this.prev, this.next));
  }

  /** Opens `queue` (the first visible queue when none), kind filter `kind`. */
  async open(queue, kind = '') {
    const names = await this.queues();
    queue = queue || this.queue || names[0] || null;
    fill(this.pick, names.map((n) => el('option', { value: n, selected: n === queue }, n)));
    await this.loadKinds(kind);
    this.queue = queue;
    this.kind = kind;
    this.cursors = [null];
    await this.load();
  }

  go(queue, kind) {
    location.hash = `#/dead/${encodeURIComponent(queue)}${kind ? `?kind=${encodeURIComponent(kind)}` : ''}`;
  }

  async loadKinds(selected) {
    let names = [];
    try {
      names = (await get('kinds')).kinds.map((k) => k.name);
    } catch {
      // The filter still offers "every kind".
    }
    fill(this.kinds, el('option', { value: '' }, 'every kind'),
      names.map((n) => el('option', { value: n, selected: n === selected }, n)));
  }

  async load() {
    if (!this.queue) {
      fill(this.body, el('p', { class: 'empty' }, 'No queues yet: dead letters appear here once tasks fail for good.'));
      this.pager(null);
      return;
    }
    const cursor = this.cursors[this.cursors.length - 1];
    const query = new URLSearchParams({ limit: PAGE });
    if (cursor) query.set('cursor', cursor);
    if (this.kind) query.set('kind', this.kind);
    try {
      this.page = await get(`queues/${encodeURIComponent(this.queue)}/dead?${query}`);
    } catch (e) {
      fill(this.body, el('p', { class: 'empty' }, e.message));
      this.pager(null);
      return;
    }
    this.render();
  }

  render() {
    const tasks = this.page.tasks;
    const admin = this.viewer().scopes.includes('admin');
    this.retryAll.disabled = !admin || tasks.length === 0;
    this.retryAll.title = admin ? '' : 'needs a key with the admin scope';
    this.pager(this.page.next_cursor);
    if (tasks.length === 0) {
      const what = this.kind ? `of kind ${this.kind} ` : '';
      fill(this.body, el('p', { class: 'empty' },
        `No dead letters ${what}in ${this.queue}. Tasks land here when their attempts run out or they fail permanently; retry them from here.`));
      return;
    }
    const rows = tasks.map((task) => el('tr', { dataset: { task: task.id } },
      el('td', {}, taskLink(task.id)),
      el('td', {}, task.kind),
      el('td', { class: 'num' }, `${task.attempts}/${task.max_attempts}`),
      el('td', {}, time(task.finished_at)),
      el('td', { class: 'error-cell', title: task.error || '' }, task.error || ''),
      el('td', { class: 'actions' }, el('button', {
        class: 'small', disabled: !admin, title: admin ? null : 'needs a key with the admin scope',
        onclick: () => this.retry([task.id]),
      }, 'Retry'))));
    fill(this.body, el('div', { class: 'table-wrap' }, el('table', { id: 'dead' },
      el('thead', {}, el('tr', {}, el('th', {}, 'Task'), el('th', {}, 'Kind'), el('th', { class: 'num' }, 'Attempts'),
        el('th', {}, 'Failed'), el('th', {}, 'Error'), el('th', { class: 'actions' }, ''))),
      el('tbody', {}, rows))));
  }

  pager(next) {
    this.prev.disabled = this.cursors.length <= 1;
    this.next.disabled = !next;
  }

  async move(step) {
    if (step > 0 && this.page?.next_cursor) this.cursors.push(this.page.next_cursor);
    if (step < 0 && this.cursors.length > 1) this.cursors.pop();
    await this.load();
  }

  retryPage() {
    return this.retry(this.page.tasks.map((t) => t.id));
  }

  /** Retries `ids` one request each; reports how many went back to their queue. */
  async retry(ids) {
    let done = 0;
    const failures = [];
    for (const id of ids) {
      try {
        await post(`tasks/${encodeURIComponent(id)}/retry`);
        done += 1;
      } catch (e) {
        failures.push(`${id}: ${e.message}`);
      }
    }
    toast(`${done} of ${ids.length} sent back to ${this.queue}`, failures.length ? 'error' : 'info');
    failures.slice(0, 3).forEach((f) => toast(f, 'error'));
    await this.load();
  }
}
