// The live stream, GET /ui/events, read with fetch() so the key goes in a header
// (EventSource cannot send one, and a key in a URL would land in logs). It reconnects
// by itself: after a server restart, a network error, or five seconds without an event
// (a stalled connection), with a growing pause of at most five seconds; five seconds
// when ttp has no stream to spare (503).

import { headers } from './api.js';

const SILENCE_MS = 5000;
const MAX_PAUSE_MS = 5000;
// What ttp's Retry-After says when it has no stream to spare.
const BUSY_PAUSE_MS = 5000;

export class Stream {
  /** handlers: snapshot(view), status(kind, detail): kind is live, waiting, busy, auth,
   * forbidden. */
  constructor(handlers) {
    this.handlers = handlers;
    this.controller = null;
    // The running loop's number (0: none), so a loop still winding down after stop()
    // never runs beside the one a quick start() began.
    this.current = 0;
    this.loops = 0;
  }

  get running() {
    return this.current !== 0;
  }

  start() {
    this.stop();
    this.current = ++this.loops;
    this.loop(this.current);
  }

  stop() {
    this.current = 0;
    this.controller?.abort();
  }

  async loop(id) {
    let pause = 500;
    while (this.current === id) {
      const outcome = await this.once();
      if (this.current !== id || outcome === 'stop') return;
      if (outcome === 'event') pause = 500;
      const wait = { again: 0, busy: BUSY_PAUSE_MS }[outcome] ?? pause;
      if (outcome !== 'busy') {
        this.handlers.status('waiting', wait ? `reconnecting in ${Math.ceil(wait / 1000)} s` : 'reconnecting');
      }
      await new Promise((done) => setTimeout(done, wait));
      pause = Math.min(pause * 2, MAX_PAUSE_MS);
    }
  }

  /** One connection: 'stop' (auth needed), 'again' (server said bye), 'busy' (503),
   * 'event' or 'lost'. */
  async once() {
    const controller = new AbortController();
    this.controller = controller;
    let silence = setTimeout(() => controller.abort(), SILENCE_MS);
    let got = false;
    try {
      const response = await fetch('ui/events', { headers: headers(), cache: 'no-store', signal: controller.signal });
      if (response.status === 401 || response.status === 403) {
        const problem = await response.json().catch(() => null);
        this.handlers.status(response.status === 401 ? 'auth' : 'forbidden', problem?.detail || '');
        this.current = 0;
        return 'stop';
      }
      if (response.status === 503) {
        // Too many viewers (TTP_UI_MAX_STREAMS) or shutting down: try again later.
        const problem = await response.json().catch(() => null);
        this.handlers.status('busy', problem?.detail || 'ttp is busy');
        return 'busy';
      }
      if (!response.ok || !response.body) return 'lost';
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return got ? 'event' : 'lost';
        clearTimeout(silence);
        silence = setTimeout(() => controller.abort(), SILENCE_MS);
        buffer += value;
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const event = parse(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
          if (event.type === 'bye') return 'again';
          if (event.type === 'snapshot') {
            got = true;
            this.handlers.status('live', '');
            this.handlers.snapshot(JSON.parse(event.data));
          }
        }
      }
    } catch {
      return got ? 'event' : 'lost';
    } finally {
      clearTimeout(silence);
      controller.abort();
    }
  }
}

/** One server-sent event's type and data. */
function parse(block) {
  const event = { type: 'message', data: '' };
  for (const line of block.split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const field = line.slice(0, colon);
    const value = line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') event.type = value;
    else if (field === 'data') event.data += value;
  }
  return event;
}
