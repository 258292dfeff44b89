// Schedules (SPEC §10): each with its spec, state, next and last run, fired and missed
// counts; pause, resume, run now; a schedule's next five runs and recent runs. Shown
// only when this server has the schedules API (`/ui/config` says so).

import { ApiError, get, post } from './api.js';
import { count, el, fill, state, taskLink, time, toast } from './format.js';

const REFRESH_MS = 5000;

export class Schedules {
  constructor(host, viewer, available) {
    this.host = host;
    this.viewer = viewer;
    this.available = available;
    this.timer = null;
    this.open = null;
  }

  async show() {
    this.hide();
    if (!this.available()) return this.unavailable();
    let list;
    try {
      list = await get('schedules');
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return this.unavailable();
      fill(this.host, el('p', { class: 'empty' }, e.message));
      return;
    }
    this.render(Array.isArray(list) ? list : list.schedules || []);
    this.timer = setTimeout(() => this.show(), REFRESH_MS);
  }

  hide() {
    clearTimeout(this.timer);
  }

  unavailable() {
    fill(this.host, el('p', { class: 'empty', id: 'schedules-unavailable' },
      'Schedules are not available on this server: its API has no /schedules.'));
  }

  render(schedules) {
    if (schedules.length === 0) {
      fill(this.host, el('div', { class: 'empty' },
        el('p', {}, 'No schedules yet — create one with PUT /schedules/{name}, e.g.:'),
        el('pre', { class: 'command' },
          `curl -X PUT ${location.origin}/schedules/nightly -H 'content-type: application/json' -d '{"cron":"0 3 * * *","task":{"kind":"noop"}}'`)));
      return;
    }
    const admin = this.viewer().scopes.includes('admin');
    const action = (name, verb, label) => el('button', {
      class: 'small', disabled: !admin, title: admin ? null : 'needs a key with the admin scope',
      onclick: () => this.act(name, verb),
    }, label);
    const rows = schedules.flatMap((s) => {
      const paused = s.state === 'paused';
      const next = s.next_runs?.[0] ?? s.next_run_at ?? s.next_run ?? null;
      const row = el('tr', { dataset: { schedule: s.name } },
        el('td', {}, el('a', { href: '#/schedules', onclick: (e) => { e.preventDefault(); this.toggleDetail(s.name); } }, s.name)),
        el('td', { class: 'mono' }, describe(s.spec || s)),
        el('td', {}, state(s.state || 'active')),
        el('td', {}, time(next)),
        el('td', {}, time(s.last_run_at)),
        el('td', { class: 'num' }, count(s.fired ?? null)),
        el('td', { class: 'num' }, count(s.missed ?? null)),
        el('td', { class: 'actions' },
          action(s.name, paused ? 'resume' : 'pause', paused ? 'Resume' : 'Pause'),
          action(s.name, 'run', 'Run now')));
      const detail = el('tr', { class: 'detail', hidden: this.open !== s.name, dataset: { detail: s.name } },
        el('td', { colspan: 8 }, el('span', { class: 'muted' }, 'Loading…')));
      if (this.open === s.name) this.loadDetail(s.name, detail);
      return [row, detail];
    });
    fill(this.host, el('div', { class: 'table-wrap' }, el('table', { id: 'schedules' },
      el('thead', {}, el('tr', {}, ['Name', 'Spec', 'State', 'Next run', 'Last run'].map((t) => el('th', {}, t)),
        el('th', { class: 'num' }, 'Fired'), el('th', { class: 'num' }, 'Missed'), el('th', { class: 'actions' }, ''))),
      el('tbody', {}, rows))));
  }

  async act(name, verb) {
    try {
      const answer = await post(`schedules/${encodeURIComponent(name)}/${verb}`);
      if (verb === 'run' && answer?.id) {
        toast(`${name}: task ${answer.id} enqueued`);
      } else {
        toast(`${name}: ${verb === 'pause' ? 'paused' : 'resumed'}`);
      }
    } catch (e) {
      toast(`${name}: ${e.message}`, 'error');
    }
    await this.show();
  }

  toggleDetail(name) {
    this.open = this.open === name ? null : name;
    const row = this.host.querySelector(`tr[data-detail="${CSS.escape(name)}"]`);
    this.host.querySelectorAll('tr.detail').forEach((r) => { r.hidden = r !== row || !this.open; });
    if (this.open && row) this.loadDetail(name, row);
  }

  async loadDetail(name, row) {
    let view;
    try {
      view = await get(`schedules/${encodeURIComponent(name)}`);
    } catch (e) {
      fill(row.firstChild, e.message);
      return;
    }
    const runs = (view.recent_runs || []).map((r) => el('li', {}, time(r.tick_at), ' → ', r.task_id ? taskLink(r.task_id) : '—'));
    fill(row.firstChild,
      el('div', { class: 'columns' },
        el('div', {}, el('h3', {}, 'Next runs'),
          el('ol', {}, (view.next_runs || []).map((t) => el('li', {}, time(t))))),
        el('div', {}, el('h3', {}, 'Recent runs'),
          runs.length ? el('ul', {}, runs) : el('p', { class: 'muted' }, 'none yet'))));
  }
}

/** "cron 0 3 * * * (Europe/Paris)" or "every 5 s". */
function describe(spec) {
  const zone = spec.timezone && spec.timezone !== 'UTC' ? ` (${spec.timezone})` : '';
  if (spec.cron) return `cron ${spec.cron}${zone}`;
  if (spec.every_ms) {
    const ms = spec.every_ms;
    return ms % 60000 === 0 ? `every ${ms / 60000} min` : ms % 1000 === 0 ? `every ${ms / 1000} s` : `every ${ms} ms`;
  }
  return '—';
}
