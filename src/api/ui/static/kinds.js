// Kinds (SPEC §9): every kind a task may have, embedded or external, with its queue,
// description and payload schema.

import { get } from './api.js';
import { el, fill, json } from './format.js';

export async function showKinds(host) {
  let kinds;
  try {
    kinds = (await get('kinds')).kinds;
  } catch (e) {
    fill(host, el('p', { class: 'empty' }, e.message));
    return;
  }
  if (kinds.length === 0) {
    fill(host, el('p', { class: 'empty' }, 'No kinds: declare one with PUT /kinds/{kind}.'));
    return;
  }
  const rows = kinds.map((k) => el('tr', { dataset: { kind: k.name } },
    el('td', { class: 'mono' }, k.name),
    el('td', {}, el('span', { class: `tag tag-${k.source}` }, k.source)),
    el('td', {}, k.queue || el('span', { class: 'muted' }, 'any')),
    el('td', {}, k.description),
    el('td', {}, el('details', {}, el('summary', {}, k.payload_required ? 'payload (required)' : 'payload'), json(k.payload_schema)))));
  fill(host,
    el('div', { class: 'table-wrap' }, el('table', { id: 'kinds' },
      el('thead', {}, el('tr', {}, ['Kind', 'Source', 'Queue', 'Description', 'Payload schema'].map((t) => el('th', {}, t)))),
      el('tbody', {}, rows))),
    el('p', { class: 'footnote' }, 'Embedded kinds run inside ttp; external kinds are run by workers in any language through the lease API.'));
}
