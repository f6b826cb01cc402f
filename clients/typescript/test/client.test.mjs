// @medic/client against a real Medic server.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { after, before, describe, test } from "node:test";

import { MedicClient, MedicError } from "../dist/index.js";
import { freePort, randomHex, skipReason, startServer, stopServers } from "./server.mjs";

const reason = skipReason();
if (reason && process.env.MEDIC_REQUIRE_ALL_CLIENTS === "1") throw new Error(reason);

const adminKey = `test-admin-${randomHex(16)}`;
let openUrl;
let authUrl;

delete process.env.MEDIC_BASE_URL;
delete process.env.MEDIC_API_KEY;

/** Wraps the real fetch to record each request and its status. */
function recordingFetch() {
  const calls = [];
  const wrapped = async (url, init = {}) => {
    const call = { url: String(url), method: init.method, headers: init.headers, body: init.body && JSON.parse(init.body) };
    calls.push(call);
    const response = await fetch(url, init);
    call.status = response.status;
    return response;
  };
  return { calls, fetch: wrapped };
}

function jobCalls(calls, name) {
  return calls
    .filter((c) => c.url.includes(`/v2/heartbeat/${name}/`))
    .map((c) => ({ action: c.url.split("/").pop(), body: c.body, status: c.status }));
}

/** The run as the server recorded it (GET /v2/services/<name>/runs). */
async function serverRun(name, runId) {
  const reply = await (await fetch(`${openUrl}/v2/services/${name}/runs`)).json();
  const run = reply.results.find((r) => r.run_id === runId);
  assert.ok(run, `run ${runId} not recorded`);
  return run;
}

let counter = 0;
const uniqueName = (label) => `ts-${label}-${counter++}-${randomHex(3)}`;

async function register(client, name) {
  await client.registerService({ heartbeat_name: name, service_name: "ts-client-tests", alert_interval: 60 });
}

describe("MedicClient against a real server", { skip: reason }, () => {
  before(async () => {
    openUrl = await startServer();
    authUrl = await startServer({ auth: "required", adminKey });
  });
  after(stopServers);

  test("sendHeartbeat success, getHeartbeats newest first", async () => {
    const client = new MedicClient(openUrl);
    const name = uniqueName("hb");
    await register(client, name);
    const stored = await client.sendHeartbeat(name, "degraded");
    assert.equal(stored.status, "DEGRADED");
    await client.sendHeartbeat({ heartbeat_name: name, service_name: "ts-client-tests" });
    const beats = await client.getHeartbeats({ heartbeat_name: name, maxCount: 10 });
    assert.deepEqual(
      beats.map((b) => b.status),
      ["UP", "DEGRADED"],
    );
    assert.equal(beats[0].heartbeat_name, name);
  });

  test("registerService is idempotent; getService reads it back", async () => {
    const client = new MedicClient({ baseUrl: openUrl });
    const name = uniqueName("reg");
    const svc = { heartbeat_name: name, service_name: "ts", alert_interval: 5, team: "sre", priority: "p4" };
    const first = await client.registerService(svc);
    const again = await client.registerService(svc);
    assert.equal(first.heartbeat_name, name);
    assert.equal(again.heartbeat_name, name);
    const service = await client.getService(name);
    assert.equal(service.heartbeat_name, name);
    assert.deepEqual([service.active, service.muted, service.down], [1, 0, 0]);
    await assert.rejects(client.getService(`${name}-missing`), (e) => e instanceof MedicError && e.status === 404);
  });

  test("registerService with a cron schedule; the reply carries it", async () => {
    const client = new MedicClient({ baseUrl: openUrl });
    const name = uniqueName("cron");
    const schedule = { cron: "0 3 * * *", timezone: "Europe/Berlin", grace: 600, start_margin: 300, max_runtime: 3600, min_runtime: 60 };
    const record = await client.registerService({ heartbeat_name: name, service_name: "nightly", schedule });
    assert.equal(record.schedule.kind, "cron");
    assert.equal(record.schedule.description, "at 03:00 every day, Europe/Berlin");
    assert.deepEqual([record.schedule.start_margin, record.schedule.max_runtime, record.schedule.min_runtime], [300, 3600, 60]);
    assert.equal(record.grace_period_seconds, 600);
    assert.equal((await client.getService(name)).schedule.timezone, "Europe/Berlin");
    await assert.rejects(
      client.registerService({ heartbeat_name: uniqueName("cron-bad"), service_name: "x", schedule: { cron: "0 3 * * *", timezone: "Mars/Olympus" } }),
      (e) => e instanceof MedicError && e.status === 400 && JSON.stringify(e.body).includes("schedule.timezone"),
    );
  });

  test("unknown heartbeat rejects with MedicError 404, not retried", async () => {
    const rec = recordingFetch();
    const client = new MedicClient({ baseUrl: openUrl, fetch: rec.fetch, backoffMs: 1 });
    await assert.rejects(client.sendHeartbeat("ts-no-such-heartbeat"), (e) => {
      assert.ok(e instanceof MedicError);
      assert.equal(e.status, 404);
      assert.equal(e.body.success, false);
      return true;
    });
    assert.equal(rec.calls.length, 1);
  });

  test("invalid registration rejects with 400", async () => {
    const client = new MedicClient(openUrl);
    await assert.rejects(
      client.registerService({ heartbeat_name: uniqueName("bad"), service_name: "x", alert_interval: 0 }),
      (e) => e instanceof MedicError && e.status === 400,
    );
  });

  test("server down: retries, then a clear failure", async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    const rec = recordingFetch();
    const client = new MedicClient({ baseUrl: closed, retries: 3, backoffMs: 5, fetch: rec.fetch });
    await assert.rejects(client.sendHeartbeat("anything"), (e) => {
      assert.ok(e instanceof MedicError);
      assert.equal(e.status, undefined);
      assert.equal(e.attempts, 4);
      assert.match(e.message, new RegExp(`cannot reach Medic at ${closed}.*ECONNREFUSED.*gave up after 4 attempts`));
      return true;
    });
    assert.equal(rec.calls.length, 4);
  });

  test("API key is sent as a bearer token", async () => {
    const rec = recordingFetch();
    const keyed = new MedicClient({ baseUrl: authUrl, apiKey: adminKey, fetch: rec.fetch });
    const name = uniqueName("auth");
    await register(keyed, name);
    assert.equal((await keyed.sendHeartbeat(name)).status, "UP");
    assert.equal(rec.calls.at(-1).headers.Authorization, `Bearer ${adminKey}`);
    await assert.rejects(new MedicClient(authUrl).sendHeartbeat(name), (e) => e.status === 401);
    await assert.rejects(
      new MedicClient({ baseUrl: authUrl, apiKey: "not-a-key" }).sendHeartbeat(name),
      (e) => e.status === 401 || e.status === 403,
    );
  });

  test("settings come from MEDIC_BASE_URL and MEDIC_API_KEY", async () => {
    const name = uniqueName("env");
    await register(new MedicClient({ baseUrl: authUrl, apiKey: adminKey }), name);
    process.env.MEDIC_BASE_URL = `${authUrl}/`;
    process.env.MEDIC_API_KEY = adminKey;
    try {
      const client = new MedicClient();
      assert.equal(client.baseUrl, authUrl);
      assert.equal((await client.sendHeartbeat(name)).heartbeat_name, name);
    } finally {
      delete process.env.MEDIC_BASE_URL;
      delete process.env.MEDIC_API_KEY;
    }
  });

  test("runJob success sends start then complete with one run id", async () => {
    const rec = recordingFetch();
    const client = new MedicClient({ baseUrl: openUrl, fetch: rec.fetch });
    const name = uniqueName("job");
    await register(client, name);
    let seen;
    const value = await client.runJob(name, async (runId) => {
      seen = runId;
      return 42;
    });
    assert.equal(value, 42);
    const calls = jobCalls(rec.calls, name);
    assert.deepEqual(
      calls.map((c) => [c.action, c.status]),
      [
        ["start", 201],
        ["complete", 201],
      ],
    );
    assert.ok(calls.every((c) => c.body.run_id === seen));
    assert.equal((await serverRun(name, seen)).state, "succeeded");
  });

  test("runJob failure sends fail with the reason and rethrows", async () => {
    const rec = recordingFetch();
    const client = new MedicClient({ baseUrl: openUrl, fetch: rec.fetch });
    const name = uniqueName("jobfail");
    await register(client, name);
    const boom = new RangeError("disk full");
    await assert.rejects(
      client.runJob(name, () => {
        throw boom;
      }),
      (e) => e === boom,
    );
    const calls = jobCalls(rec.calls, name);
    assert.deepEqual(
      calls.map((c) => [c.action, c.status]),
      [
        ["start", 201],
        ["fail", 201],
      ],
    );
    assert.equal(calls[1].body.message, "RangeError: disk full");
    assert.equal(calls[1].body.run_id, calls[0].body.run_id);
    const run = await serverRun(name, calls[0].body.run_id);
    assert.deepEqual([run.state, run.message], ["failed", "RangeError: disk full"]);
  });

  test("runJob still runs the work when Medic is down", async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    const failures = [];
    const client = new MedicClient({
      baseUrl: closed,
      retries: 1,
      backoffMs: 1,
      onJobSignalError: (error, action) => failures.push([action, error instanceof MedicError]),
    });
    assert.equal(await client.runJob("ts-anything", () => "done"), "done");
    assert.deepEqual(failures, [
      ["start", true],
      ["complete", true],
    ]);
  });

  test("job signals without a run id", async () => {
    const client = new MedicClient(openUrl);
    const name = uniqueName("signals");
    await register(client, name);
    const runId = await client.startJob(name);
    assert.ok(runId);
    assert.equal(await client.completeJob(name), runId);
    assert.equal(await client.startJob(name, "explicit-run-1"), "explicit-run-1");
    assert.equal(await client.failJob(name, "explicit-run-1", "exit 3"), "explicit-run-1");
    await assert.rejects(client.startJob("ts-no-such-job"), (e) => e.status === 404);
  });
});

test("retries 429 (honouring Retry-After) and 5xx", async () => {
  // The real server cannot be made to answer 503 on demand, so this one case uses a
  // scripted local server.
  const replies = [
    [429, { "Retry-After": "0" }],
    [503, {}],
    [201, {}],
  ];
  const seen = [];
  const srv = createServer((req, res) => {
    seen.push(req.url);
    const [status, headers] = replies.shift();
    res.writeHead(status, { "Content-Type": "application/json", ...headers });
    res.end(JSON.stringify({ success: status < 300, message: "m", results: { heartbeat_name: "flaky" } }));
  });
  await new Promise((r) => srv.listen(0, "127.0.0.1", r));
  try {
    const client = new MedicClient({ baseUrl: `http://127.0.0.1:${srv.address().port}`, backoffMs: 10 });
    const started = Date.now();
    assert.equal((await client.sendHeartbeat("flaky")).heartbeat_name, "flaky");
    assert.equal(seen.length, 3);
    assert.ok(Date.now() - started < 2000);
  } finally {
    srv.close();
  }
});
