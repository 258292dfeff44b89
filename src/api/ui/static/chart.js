// The throughput chart: tasks in and out per second over the last five minutes, summed
// over the queues the viewer sees, drawn as two SVG polylines. The history is this
// page's (one point per snapshot since it opened), so it costs the server nothing.

import { el, rate } from './format.js';

const SPAN_S = 300;
const SVG = 'http://www.w3.org/2000/svg';
const WIDTH = 600;
const HEIGHT = 120;

function svg(tag, attrs = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  return node;
}

export class Chart {
  constructor(host) {
    this.points = [];
    this.lines = { in: svg('polyline', { class: 'line-in' }), out: svg('polyline', { class: 'line-out' }) };
    this.top = el('span', { class: 'chart-top' });
    const plot = svg('svg', { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, preserveAspectRatio: 'none', role: 'img', 'aria-label': 'tasks in and out per second, last 5 minutes' });
    plot.append(svg('line', { x1: 0, y1: HEIGHT, x2: WIDTH, y2: HEIGHT, class: 'axis' }), this.lines.in, this.lines.out);
    host.replaceChildren(
      el('div', { class: 'chart-head' },
        el('span', {}, 'Throughput, last 5 min'),
        el('span', { class: 'legend' }, el('i', { class: 'key-in' }), 'in/s ', el('i', { class: 'key-out' }), 'out/s'),
        this.top),
      plot,
    );
  }

  /** Adds a snapshot's totals (rates may be null: no point then). */
  add(at, totalIn, totalOut) {
    const t = Date.parse(at) / 1000;
    this.points.push({ t, in: totalIn, out: totalOut });
    while (this.points.length && this.points[0].t < t - SPAN_S) this.points.shift();
    this.draw(t);
  }

  clear() {
    this.points = [];
    this.draw(Date.now() / 1000);
  }

  draw(now) {
    const values = this.points.flatMap((p) => [p.in, p.out]).filter((v) => v !== null);
    const max = Math.max(1, ...values);
    this.top.textContent = `max ${rate(max)}/s`;
    for (const side of ['in', 'out']) {
      const coordinates = this.points
        .filter((p) => p[side] !== null)
        .map((p) => {
          const x = ((p.t - (now - SPAN_S)) / SPAN_S) * WIDTH;
          const y = HEIGHT - (p[side] / max) * (HEIGHT - 4);
          return `${x.toFixed(1)},${y.toFixed(1)}`;
        });
      this.lines[side].setAttribute('points', coordinates.join(' '));
    }
  }
}
