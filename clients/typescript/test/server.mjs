// Starts a real Medic server (`python -m medic run`) for the client tests.
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

export function medicPython() {
  if (process.env.MEDIC_PYTHON) return process.env.MEDIC_PYTHON;
  const venv = join(REPO, ".venv", "bin", "python");
  return existsSync(venv) ? venv : "python3";
}

/** Why the server cannot be started, or undefined when it can. */
export function skipReason() {
  const probe = spawnSync(medicPython(), [
    "-c",
    "import importlib.util as u, sys; sys.exit(u.find_spec('medic') is None or u.find_spec('medic.__main__') is None)",
  ]);
  if (probe.status === 0) return undefined;
  return `${medicPython()} cannot run \`-m medic\` (set MEDIC_PYTHON to the server's python)`;
}

export function freePort() {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolvePort(port));
    });
  });
}

export function randomHex(n) {
  return randomBytes(n).toString("hex");
}

const dir = mkdtempSync(join(tmpdir(), "medic-ts-test-"));
const running = [];

export async function startServer({ auth = "disabled", adminKey } = {}) {
  const port = await freePort();
  const logPath = join(dir, `server-${port}.log`);
  const log = openSync(logPath, "w");
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("MEDIC_")));
  Object.assign(env, {
    HOST: "127.0.0.1",
    PORT: String(port),
    MEDIC_DATABASE_URL: `sqlite:///${dir}/medic-${port}.db`,
    MEDIC_AUTH: auth,
    WORKER_INTERVAL_SECONDS: "60",
    LOG_FORMAT: "text",
  });
  if (adminKey) env.MEDIC_ADMIN_API_KEY = adminKey;
  const child = spawn(medicPython(), ["-m", "medic", "run"], { env, stdio: ["ignore", log, log] });
  const exited = new Promise((done) => child.once("exit", done));
  running.push({ child, exited });
  let early = false;
  exited.then(() => (early = true));
  const url = `http://127.0.0.1:${port}`;
  const tail = () => readFileSync(logPath, "utf8").slice(-4000);
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (early) throw new Error(`medic server exited early:\n${tail()}`);
    try {
      const res = await fetch(`${url}/health/live`);
      if (res.status === 200) return url;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`medic server not live within 30 s:\n${tail()}`);
}

export async function stopServers() {
  for (const { child, exited } of running) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    }
  }
  rmSync(dir, { recursive: true, force: true });
}
