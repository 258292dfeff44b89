#!/usr/bin/env node
// The BullMQ side of `make bench-peers` (scripts/bench-peers.sh runs it, then `ttp bench
// --peer-results` runs ttp's side of the same workloads and prints both).
//
// Up to three workloads (--workloads, default all) of no-op jobs, each on a freshly
// flushed Redis (the one given by --port, started with make bench's flags), with results
// kept (removeOnComplete: false):
//   bulk    100,000 jobs added with Queue.addBulk in batches of 1,000, one call in flight,
//           while a Worker (concurrency 50, its own process) runs them;
//   single  100,000 jobs added with Queue.add one at a time, 64 calls in flight;
//   rate    an open loop: 500 jobs/s for 20 s, each add timed from when it was *meant* to
//           be sent, so a slow moment cannot hide its queueing.
// For each it measures Redis CPU per job (INFO cpu, before the first add and after the
// last completion), the CPU of both node processes (process.cpuUsage: the producer — this
// process — and the worker), jobs/s from the first add to the last completion, add
// latency and end-to-end latency (job.timestamp → job.finishedOn from the job records,
// millisecond precision, like ttp's created_at → finished_at).
//
// Prints one JSON document on stdout (progress on stderr). Needs bullmq on NODE_PATH.
//
//   NODE_PATH=.peers/bullmq-5.81.5/node_modules node scripts/peers/bullmq.js --port 6393
'use strict';

const { fork } = require('node:child_process');
const { parseArgs } = require('node:util');
const { performance } = require('node:perf_hooks');
const { Queue, Worker } = require('bullmq');

const { values: options } = parseArgs({
  options: {
    port: { type: 'string', default: '6393' },
    jobs: { type: 'string', default: '100000' },
    batch: { type: 'string', default: '1000' },
    'single-in-flight': { type: 'string', default: '64' },
    rate: { type: 'string', default: '500' },
    'duration-s': { type: 'string', default: '20' },
    concurrency: { type: 'string', default: '50' },
    // Which workloads to run, comma-separated (bulk, single, rate).
    workloads: { type: 'string', default: 'bulk,single,rate' },
    'timeout-s': { type: 'string', default: '300' },
    // Internal: run as the worker process (forked by the producer, one per workload).
    worker: { type: 'string' },
  },
});
const connection = { host: '127.0.0.1', port: Number(options.port) };
const concurrency = Number(options.concurrency);

/** Wall-clock milliseconds with sub-millisecond precision, comparable across processes. */
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const log = (...args) => console.error('bullmq:', ...args);
/** user + system CPU of this process (all its threads) since `since`, µs. */
const cpuUs = (since) => {
  const { user, system } = process.cpuUsage(since);
  return user + system;
};

// ---------------------------------------------------------------------------------------
// The worker process: runs jobs, counts them, and tells the producer when it has seen as
// many as expected, with its own CPU time since the start signal.

async function runWorker(queueName) {
  let expected = Infinity;
  let finished = 0;
  let failed = 0;
  let cpuStart;
  const worker = new Worker(queueName, async () => null, { connection, concurrency });
  const onFinished = () => {
    finished += 1;
    if (finished === expected) process.send({ done: now(), cpuUs: cpuUs(cpuStart), failed });
  };
  worker.on('completed', onFinished);
  worker.on('failed', () => {
    failed += 1;
    onFinished();
  });
  process.on('message', async (message) => {
    if (message.expect !== undefined) {
      expected = message.expect;
      cpuStart = process.cpuUsage();
      process.send({ started: true });
    } else if (message.stop) {
      await worker.close();
      process.exit(0);
    }
  });
  await worker.waitUntilReady();
  process.send({ ready: true });
}

/** Forks a worker process for `queueName`; resolves once it is connected. */
async function startWorker(queueName) {
  const child = fork(__filename, ['--port', options.port, '--concurrency', String(concurrency),
    '--worker', queueName], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const next = (key) => new Promise((resolve, reject) => {
    const onMessage = (message) => {
      if (message[key] === undefined) return;
      child.off('message', onMessage);
      resolve(message);
    };
    child.on('message', onMessage);
    child.once('exit', (code) => reject(new Error(`worker exited (${code}) waiting for ${key}`)));
  });
  await next('ready');
  return {
    // Starts the worker's CPU clock; resolves when it has, with `done`, which resolves at
    // the last job (wrapped: an async function returning a promise would wait for it).
    async expect(jobs) {
      const done = next('done');
      child.send({ expect: jobs });
      await next('started');
      return { done };
    },
    async stop() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.send({ stop: true });
      await exited;
    },
  };
}

// ---------------------------------------------------------------------------------------
// Redis: the same reset as `ttp bench` between scenarios (flush, compact the AOF) and
// its CPU time.

async function resetRedis(redis) {
  await redis.flushall();
  await redis.bgrewriteaof().catch(() => {});
  for (let i = 0; i < 300; i += 1) {
    const info = await redis.info('persistence');
    if (!/aof_rewrite_in_progress:1|aof_rewrite_scheduled:1/.test(info)) return;
    await sleep(100);
  }
}

/** used_cpu_sys + used_cpu_user of Redis, µs. */
async function redisCpuUs(redis) {
  const info = await redis.info('cpu');
  const field = (name) => Number(new RegExp(`^${name}:([0-9.]+)`, 'm').exec(info)[1]);
  return (field('used_cpu_sys') + field('used_cpu_user')) * 1e6;
}

// ---------------------------------------------------------------------------------------
// Producers. Each returns the latency of every add call, ms.

/** `inFlight` loops, each making its next add call as soon as the last one returned. */
async function closedLoop(queue, { jobs, batch, in_flight: inFlight }) {
  const bulk = Array.from({ length: batch }, () => ({ name: 'noop', data: {} }));
  let calls = Math.ceil(jobs / batch);
  const latencies = [];
  const loop = async () => {
    while (calls > 0) {
      calls -= 1;
      const sent = now();
      if (batch > 1) await queue.addBulk(bulk);
      else await queue.add('noop', {});
      latencies.push(now() - sent);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, loop));
  return latencies;
}

/** One add every 1/rate s, not waiting for earlier ones, timed from its intended time. */
async function openLoop(queue, { jobs, rate }) {
  const interval = 1000 / rate;
  const start = now();
  const latencies = [];
  const pending = [];
  for (let i = 0; i < jobs; i += 1) {
    const intended = start + i * interval;
    const wait = intended - now();
    if (wait > 0) await sleep(wait);
    pending.push(queue.add('noop', {}).then(() => latencies.push(now() - intended)));
  }
  await Promise.all(pending);
  return latencies;
}

// ---------------------------------------------------------------------------------------
// One workload, measured.

/** `promise`, or a failure naming `what` after --timeout-s (a stuck run must not hang). */
function withTimeout(promise, what) {
  const seconds = Number(options['timeout-s']);
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${seconds} s`)), seconds * 1000);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function percentiles(values) {
  const sorted = Float64Array.from(values).sort();
  const at = (q) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] : 0);
  return { p50_ms: at(0.5), p99_ms: at(0.99) };
}

/** finishedOn − timestamp of every completed job, ms (read 1,000 records at a time). */
async function endToEnd(queue, jobs) {
  const values = [];
  for (let start = 0; start < jobs; start += 1000) {
    const page = await queue.getJobs(['completed'], start, start + 999, true);
    for (const job of page) values.push(job.finishedOn - job.timestamp);
  }
  return percentiles(values);
}

async function measure(redis, workload) {
  log(`${workload.name}: ${workload.jobs} jobs`);
  await resetRedis(redis);
  const name = `bench-${workload.name}`;
  const queue = new Queue(name, {
    connection,
    defaultJobOptions: { removeOnComplete: false, removeOnFail: false },
  });
  await queue.waitUntilReady();
  const worker = await startWorker(name);

  const redisBefore = await redisCpuUs(redis);
  const producerBefore = process.cpuUsage();
  const { done } = await worker.expect(workload.jobs);
  const started = now();
  const produce = workload.rate ? openLoop(queue, workload) : closedLoop(queue, workload);
  const latencies = await withTimeout(produce, `${workload.name}: adding`);
  const added = now();
  const finished = await withTimeout(done, `${workload.name}: running the jobs`);
  const redisUs = (await redisCpuUs(redis)) - redisBefore;
  const producerUs = cpuUs(producerBefore);

  const counts = await queue.getJobCounts('completed', 'failed');
  const endToEndMs = await endToEnd(queue, workload.jobs);
  await worker.stop();
  await queue.close();
  const perJob = (us) => us / workload.jobs;
  return {
    ...workload,
    completed: counts.completed,
    failed: counts.failed,
    added_per_s: workload.jobs / ((added - started) / 1000),
    processed_per_s: workload.jobs / ((finished.done - started) / 1000),
    redis_cpu_us_per_job: perJob(redisUs),
    node_cpu_us_per_job: perJob(producerUs + finished.cpuUs),
    worker_cpu_us_per_job: perJob(finished.cpuUs),
    producer_cpu_us_per_job: perJob(producerUs),
    add: percentiles(latencies),
    end_to_end: endToEndMs,
  };
}

async function main() {
  const jobs = Number(options.jobs);
  const rate = Number(options.rate);
  const durationS = Number(options['duration-s']);
  const all = [
    { name: 'bulk', jobs, batch: Number(options.batch), in_flight: 1, rate: null, duration_s: null },
    { name: 'single', jobs, batch: 1, in_flight: Number(options['single-in-flight']), rate: null, duration_s: null },
    { name: 'rate', jobs: rate * durationS, batch: 1, in_flight: null, rate, duration_s: durationS },
  ];
  const wanted = options.workloads.split(',').map((w) => w.trim());
  const unknown = wanted.filter((w) => !all.some((workload) => workload.name === w));
  if (unknown.length) throw new Error(`--workloads: unknown ${unknown.join(', ')} (bulk, single, rate)`);
  const workloads = all.filter((workload) => wanted.includes(workload.name));
  const admin = new Queue('bench-admin', { connection });
  const redis = await admin.client;
  const results = [];
  for (const workload of workloads) results.push(await measure(redis, workload));
  await admin.close();
  console.log(JSON.stringify({
    peer: 'BullMQ',
    version: require('bullmq/package.json').version,
    runtime: `node ${process.version}`,
    worker_concurrency: concurrency,
    workloads: results,
  }, null, 2));
}

if (options.worker) {
  runWorker(options.worker).catch((error) => { console.error(error); process.exit(1); });
} else {
  main().then(() => process.exit(0), (error) => { console.error(error); process.exit(1); });
}
