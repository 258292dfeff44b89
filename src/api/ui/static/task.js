// One task by id: state, attempts, times, payload, result, error; cancel while it has
// not started, retry once it failed or was cancelled. Refreshed every two seconds
// until it is finished.

import { ApiError, del, get, post } from './api.js';
import { el, fill, json, state, time, toast } from './format.js';

const FINISHED = ['succeeded', 'failed', 'cancelled'];
const REFRESH_MS = 2000;

export class TaskView {
  constructor(host, viewer) {
    this.host = host;
    this.viewer = viewer;
    this.id = null;
    this.timer = null;
    this.input = el('input', { id: 'task-id', type: 'text', placeholder: 'Paste a task id, e.g. 01JDX3Q9ZK8M4V2T6B7C5N1H0E.default', spellcheck: 'false', autocomplete: 'off' });
    const form = el('form', { class: 'lookup-form', onsubmit: (e) => {
      e.preventDefault();
      const id = this.input.value.trim();
      if (id) location.hash = `#/task/${encodeURIComponent(id)}`;
    } }, this.input, el('button', { type: 'submit' }, 'Look up'));
    this.body = el('div', { id: 'task-body' });
    fill(host, form, this.body);
  }

  /** Shows task `id` (or the empty form). */
  async open(id) {
    this.close();
    this.id = id;
    this.input.value = id || '';
    if (!id) {
      fill(this.body, el('p', { class: 'empty' }, 'Paste a task id above, or follow a link from the dead letters or a schedule.'));
      return;
    }
    fill(this.body, el('p', { class: 'muted' }, 'Loading…'));
    await this.load();
  }

  close() {
    clearTimeout(this.timer);
    this.id = null;
  }

  async load() {
    const id = this.id;
    let task;
    try {
      task = await get(`tasks/${encodeURIComponent(id)}`);
    } catch (e) {
      if (id !== this.id) return;
      const text = e instanceof ApiError && e.status === 404
        ? `No task ${id}: unknown, or expired after its result TTL.`
        : e.message;
      fill(this.body, el('p', { class: 'empty' }, text));
      return;
    }
    if (id !== this.id) return;
    this.render(task);
    if (!FINISHED.includes(task.state)) {
      this.timer = setTimeout(() => this.id === id && this.load(), REFRESH_MS);
    }
  }

  render(task) {
    const admin = this.viewer().scopes.includes('admin');
    const actions = [];
    if (task.state === 'queued' || task.state === 'scheduled') {
      actions.push(this.button('Cancel', () => del(`tasks/${encodeURIComponent(task.id)}`), admin, 'danger'));
    }
    if (task.state === 'failed' || task.state === 'cancelled') {
      actions.push(this.button('Retry', () => post(`tasks/${encodeURIComponent(task.id)}/retry`), admin));
    }
    const row = (label, ...value) => [el('dt', {}, label), el('dd', {}, ...value)];
    fill(this.body,
      el('div', { class: 'task-head' },
        el('h2', { class: 'mono', id: 'task-title' }, task.id),
        state(task.state),
        el('span', { class: 'actions' }, actions)),
      el('dl', { class: 'facts' },
        row('Queue', task.queue),
        row('Kind', task.kind),
        row('Priority', String(task.priority)),
        row('Attempts', el('span', { id: 'task-attempts' }, `${task.attempts} of ${task.max_attempts}`)),
        row('Created', time(task.created_at)),
        row('Run at', time(task.run_at)),
        row('Started', time(task.started_at)),
        row('Finished', time(task.finished_at)),
        task.worker_id ? row('Worker', task.worker_id) : null,
        task.schedule ? row('Schedule', task.schedule) : null),
      task.error ? el('section', {}, el('h3', {}, 'Error'), el('pre', { class: 'error', id: 'task-error' }, task.error)) : null,
      el('section', {}, el('h3', {}, 'Payload'), json(task.payload)),
      task.state === 'succeeded' ? el('section', {}, el('h3', {}, 'Result'), json(task.result)) : null,
    );
  }

  button(label, action, allowed, kind = '') {
    return el('button', {
      class: kind,
      disabled: !allowed,
      title: allowed ? null : 'needs a key with the admin scope',
      onclick: async (e) => {
        e.target.disabled = true;
        try {
          await action();
          toast(`${label} done`);
        } catch (error) {
          toast(`${label}: ${error.message}`, 'error');
        }
        clearTimeout(this.timer);
        await this.load();
      },
    }, label);
  }
}
