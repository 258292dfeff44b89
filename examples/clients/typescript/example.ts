// A typed `fetch` client from the openapi-typescript types (`make clients` type-checks
// it with `tsc --noEmit`, then runs it with node against a live ttp):
//     TTP_URL=http://127.0.0.1:8080 [TTP_API_KEY=...] node example.js
// `./ttp.js` is target/clients/typescript/ttp.d.ts, generated from openapi/openapi.json.
import type { components, paths } from "./ttp.js";

type TaskRequest = components["schemas"]["TaskRequest"];
type TaskView = components["schemas"]["TaskView"];
type Problem = components["schemas"]["Problem"];
type SleepPayload = components["schemas"]["SleepPayload"];
type WaitMs = NonNullable<paths["/tasks/{id}"]["get"]["parameters"]["query"]>["wait_ms"];
declare const process: { env: Record<string, string | undefined> }; // node's, without @types/node

const base = process.env.TTP_URL ?? "http://127.0.0.1:8080";
const headers = { "content-type": "application/json", authorization: `Bearer ${process.env.TTP_API_KEY ?? ""}` };

/** POST /tasks: the task's view (202), or the problem. */
async function submit(body: TaskRequest): Promise<{ status: number; body: TaskView | Problem }> {
  const res = await fetch(`${base}/tasks`, { method: "POST", headers, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as TaskView | Problem };
}

/** GET /tasks/{id}?wait_ms=: long-polls until the task is terminal or the time is up. */
async function read(id: string, waitMs: WaitMs = 10_000): Promise<TaskView> {
  const res = await fetch(`${base}/tasks/${encodeURIComponent(id)}?wait_ms=${waitMs}`, { headers });
  if (!res.ok) throw new Error(((await res.json()) as Problem).detail);
  return (await res.json()) as TaskView;
}

const echo = await submit({ kind: "echo", payload: { n: 1 }, priority: 9 });
if (echo.status !== 202 || !("id" in echo.body)) throw new Error(`submit: ${JSON.stringify(echo)}`);
const done = await read(echo.body.id);
if (done.state !== "succeeded" || JSON.stringify(done.result) !== '{"n":1}') throw new Error(JSON.stringify(done));

const nap: SleepPayload = { ms: 20 };
const slept = await submit({ kind: "sleep", payload: nap });
if (!("id" in slept.body)) throw new Error(JSON.stringify(slept));
const bad = await submit({ kind: "sleep", payload: { ms: 90_000 } });
if (bad.status !== 422 || !("field" in bad.body) || bad.body.field !== "payload.ms") throw new Error(JSON.stringify(bad));

// The types constrain requests: these lines must not compile.
// @ts-expect-error `ms` is a number in SleepPayload
export const wrong: SleepPayload = { ms: "250" };
// @ts-expect-error `kind` is required in TaskRequest
export const noKind: TaskRequest = { payload: nap };
// @ts-expect-error `state` is one of the TaskState values
export const unknownState: TaskView["state"] = "done";

console.log(`typescript client: ok (${done.state}, ${(await read(slept.body.id)).state})`);
