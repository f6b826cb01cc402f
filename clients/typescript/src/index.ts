/**
 * Client for Medic, the heartbeat monitoring service. Uses the global `fetch`
 * (Node 18+, browsers, Deno, Bun); no runtime dependencies.
 *
 * Requests are retried with exponential backoff on network errors, timeouts, 5xx
 * and 429 (honouring Retry-After). Every other failure rejects with `MedicError`.
 */

export const VERSION = "1.0.0";
export const DEFAULT_BASE_URL = "http://localhost:5000";

/** A server asking for a longer pause than this gets this long: a late heartbeat is worth less than a fast failure. */
const MAX_RETRY_AFTER_MS = 60_000;
const MAX_BACKOFF_MS = 30_000;
/** Fail reasons are for humans reading an alert; keep request bodies small. */
const MAX_MESSAGE_CHARS = 2000;

export type HeartbeatStatus = "UP" | "DOWN" | "DEGRADED";
export type Priority = "p1" | "p2" | "p3" | "p4" | "p5";

/** A heartbeat to send, in Medic's wire shape. */
export interface Heartbeat {
  heartbeat_name: string;
  /** Defaults to "UP"; any case is accepted. */
  status?: HeartbeatStatus | Lowercase<HeartbeatStatus>;
  service_name?: string;
}

/** A stored heartbeat. */
export interface HeartbeatRecord {
  heartbeat_id: number;
  heartbeat_name: string;
  service_name: string;
  /** ISO 8601, UTC. */
  time: string;
  status: HeartbeatStatus;
  team: string;
  priority: Priority;
}

/** Filters for `getHeartbeats`, named as in the HTTP API. */
export interface HeartbeatQuery {
  heartbeat_name?: string;
  service_name?: string;
  /** Server default 250. */
  maxCount?: number;
}

/** A service registration; optional fields left out take the server's defaults. */
export interface ServiceRegistration {
  heartbeat_name: string;
  service_name: string;
  /** Minutes, >= 1; required unless `schedule` is a cron schedule. */
  alert_interval?: number;
  threshold?: number;
  team?: string;
  priority?: Priority;
  runbook?: string;
  grace_period_seconds?: number;
  /** Stored name becomes `<environment>-<heartbeat_name>`. */
  environment?: string;
  schedule?: Schedule;
}

/**
 * A cron schedule (docs/schedules.md): slots are the times `cron` names in `timezone`
 * (default UTC). Durations are seconds.
 */
export interface Schedule {
  /** `"cron"` is implied by `cron`; `"interval"` keeps `alert_interval`. */
  kind?: "cron" | "interval";
  /** 5 fields, or an alias such as `"@daily"`. */
  cron?: string;
  /** IANA name, e.g. `"Europe/Berlin"`. */
  timezone?: string;
  /** A success this late still meets its slot (stored as `grace_period_seconds`). */
  grace?: number;
  /** A run must have started by then, else "late to start". */
  start_margin?: number;
  /** A started run may take this long, else "running too long". */
  max_runtime?: number;
  /** A completed run must take at least this long, else "finished too fast". */
  min_runtime?: number;
}

/** The schedule as replies show it. */
export type ScheduleRecord =
  | { kind: "interval"; alert_interval: number; threshold: number; grace_period_seconds: number }
  | {
      kind: "cron";
      cron: string;
      timezone: string;
      /** In words: "at 03:00 every day, Europe/Berlin". */
      description: string;
      grace: number;
      start_margin: number | null;
      max_runtime: number | null;
      min_runtime: number | null;
      /** The next slots, as ISO times in UTC and in the schedule's zone. */
      next_slots: { utc: string; local: string }[];
    };

/** A service as Medic stores it (the server may add fields). */
export interface ServiceRecord {
  heartbeat_name: string;
  service_name: string;
  alert_interval: number;
  /** Absent from servers older than cron schedules. */
  schedule?: ScheduleRecord;
  [field: string]: unknown;
}

export type JobAction = "start" | "complete" | "fail";

export interface MedicClientOptions {
  /** Defaults to `MEDIC_BASE_URL`, then http://localhost:5000. */
  baseUrl?: string;
  /** Sent as `Authorization: Bearer`; defaults to `MEDIC_API_KEY`. */
  apiKey?: string;
  /** Per attempt; default 5000. */
  timeoutMs?: number;
  /** Extra attempts after the first on network errors, 5xx and 429; default 3. */
  retries?: number;
  /** First retry delay, doubled on each further retry; default 500. */
  backoffMs?: number;
  /** A fetch implementation; defaults to the global one. */
  fetch?: typeof fetch;
  /** Receives job signal failures inside `runJob`, which never rejects for them; default console.warn. */
  onJobSignalError?: (error: MedicError, action: JobAction, name: string) => void;
}

/** A request to Medic failed. `status` is undefined when the server could not be reached. */
export class MedicError extends Error {
  readonly status: number | undefined;
  readonly body: unknown;
  readonly attempts: number;

  constructor(message: string, options: { status?: number; body?: unknown; attempts?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "MedicError";
    this.status = options.status;
    this.body = options.body;
    this.attempts = options.attempts ?? 1;
  }
}

interface Envelope<T> {
  success: boolean;
  message: string;
  results: T;
}

function env(name: string): string | undefined {
  const value = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.[name];
  return value ? value : undefined;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function retryAfterMs(header: string | null): number | undefined {
  if (!header || !header.trim()) return undefined;
  const seconds = Number(header);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(header) - Date.now();
  if (Number.isNaN(ms)) return undefined;
  return Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS);
}

function describe(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.slice(0, MAX_MESSAGE_CHARS);
}

function networkReason(error: unknown): string {
  if (error instanceof Error) {
    if (error.name === "TimeoutError") return "timed out";
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    return cause?.code ?? cause?.message ?? error.message;
  }
  return String(error);
}

function randomRunId(): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export class MedicClient {
  readonly baseUrl: string;
  readonly timeoutMs: number;
  readonly retries: number;
  readonly backoffMs: number;
  readonly #apiKey: string | undefined;
  readonly #fetch: typeof fetch;
  readonly #onJobSignalError: NonNullable<MedicClientOptions["onJobSignalError"]>;

  /** Takes options, or just the base URL. */
  constructor(options: MedicClientOptions | string = {}) {
    const opts: MedicClientOptions = typeof options === "string" ? { baseUrl: options } : options;
    this.baseUrl = (opts.baseUrl || env("MEDIC_BASE_URL") || DEFAULT_BASE_URL).replace(/\/+$/, "");
    this.#apiKey = opts.apiKey ?? env("MEDIC_API_KEY");
    this.timeoutMs = opts.timeoutMs ?? 5000;
    this.retries = Math.max(0, opts.retries ?? 3);
    this.backoffMs = Math.max(0, opts.backoffMs ?? 500);
    this.#fetch = opts.fetch ?? globalThis.fetch.bind(globalThis);
    this.#onJobSignalError =
      opts.onJobSignalError ?? ((error, action, name) => console.warn(`medic: job ${action} "${name}" failed: ${error.message}`));
  }

  /** Records a heartbeat; resolves to the stored heartbeat. A 404 means the heartbeat name is not registered. */
  sendHeartbeat(heartbeat: Heartbeat): Promise<HeartbeatRecord>;
  sendHeartbeat(heartbeatName: string, status?: Heartbeat["status"], serviceName?: string): Promise<HeartbeatRecord>;
  sendHeartbeat(first: Heartbeat | string, status?: Heartbeat["status"], serviceName?: string): Promise<HeartbeatRecord> {
    const hb: Heartbeat = typeof first === "string" ? { heartbeat_name: first, status, service_name: serviceName } : first;
    const body: Record<string, string> = {
      heartbeat_name: hb.heartbeat_name,
      status: (hb.status ?? "UP").toUpperCase(),
    };
    if (hb.service_name) body.service_name = hb.service_name;
    return this.#request<HeartbeatRecord>("POST", "/heartbeat", { body });
  }

  /** Recent heartbeats, newest first. */
  getHeartbeats(query: HeartbeatQuery = {}): Promise<HeartbeatRecord[]> {
    const params: Record<string, string> = {};
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined && value !== null && value !== "") params[key] = String(value);
    }
    return this.#request<HeartbeatRecord[]>("GET", "/heartbeat", { query: params });
  }

  /** Registers a service; registering it again is not an error. Resolves to the stored record. */
  registerService(service: ServiceRegistration): Promise<ServiceRecord> {
    const body = Object.fromEntries(Object.entries(service).filter(([, v]) => v !== undefined));
    return this.#request<ServiceRecord>("POST", "/service", { body });
  }

  /** One service (flags `active`, `muted`, `down` are 0 or 1, as the original Medic answered them); rejects with status 404 when unknown. */
  async getService(heartbeatName: string): Promise<ServiceRecord> {
    const results = await this.#request<ServiceRecord[] | ServiceRecord>(
      "GET",
      `/service/${encodeURIComponent(heartbeatName)}`,
    );
    // A one-element list (the original Medic's shape); servers before that answered the record itself.
    return Array.isArray(results) ? results[0] : results;
  }

  /** Signals a run started; resolves to the run id (the server makes one when none is given). */
  startJob(name: string, runId?: string): Promise<string> {
    return this.#jobSignal(name, "start", runId);
  }

  /** Signals a run completed; without a run id the newest open run is closed. */
  completeJob(name: string, runId?: string): Promise<string> {
    return this.#jobSignal(name, "complete", runId);
  }

  /** Signals a run failed, with an optional reason. */
  failJob(name: string, runId?: string, message?: string): Promise<string> {
    return this.#jobSignal(name, "fail", runId, message);
  }

  /**
   * Reports one run of `fn`: start, then complete, or fail with the error (which is
   * then re-thrown). `fn` runs even when Medic is unreachable; signal failures go to
   * `onJobSignalError` and never change the outcome. Resolves to `fn`'s value.
   */
  async runJob<T>(name: string, fn: (runId: string) => T | Promise<T>): Promise<T> {
    // Made here, not by the server, so a retried start and the closing signal name
    // the same run even when runs of this job overlap.
    const runId = randomRunId();
    await this.#quietly("start", name, () => this.startJob(name, runId));
    let result: T;
    try {
      result = await fn(runId);
    } catch (error) {
      await this.#quietly("fail", name, () => this.failJob(name, runId, describe(error)));
      throw error;
    }
    await this.#quietly("complete", name, () => this.completeJob(name, runId));
    return result;
  }

  async #quietly(action: JobAction, name: string, signal: () => Promise<string>): Promise<void> {
    try {
      await signal();
    } catch (error) {
      const medicError = error instanceof MedicError ? error : new MedicError(String(error), { cause: error });
      try {
        this.#onJobSignalError(medicError, action, name);
      } catch {
        // A broken error handler must not fail the job either.
      }
    }
  }

  async #jobSignal(name: string, action: JobAction, runId?: string, message?: string): Promise<string> {
    const body: Record<string, string> = {};
    if (runId) body.run_id = runId;
    if (message) body.message = message.slice(0, MAX_MESSAGE_CHARS);
    const results = await this.#request<{ run_id?: string } | null>(
      "POST",
      `/v2/heartbeat/${encodeURIComponent(name)}/${action}`,
      { body },
    );
    return results?.run_id ?? runId ?? "";
  }

  #delay(attempt: number, retryAfter: string | null): number {
    const asked = retryAfterMs(retryAfter);
    if (asked !== undefined) return asked;
    const base = Math.min(this.backoffMs * 2 ** (attempt - 1), MAX_BACKOFF_MS);
    // Jitter keeps a fleet of clients from retrying in lock-step after an outage.
    return base * (0.5 + Math.random() / 2);
  }

  async #request<T>(
    method: "GET" | "POST",
    path: string,
    options: { body?: unknown; query?: Record<string, string> } = {},
  ): Promise<T> {
    let url = this.baseUrl + path;
    if (options.query && Object.keys(options.query).length > 0) {
      url += `?${new URLSearchParams(options.query).toString()}`;
    }
    const headers: Record<string, string> = { Accept: "application/json" };
    if (globalThis.process?.versions?.node) headers["User-Agent"] = `medic-client-js/${VERSION}`;
    if (this.#apiKey) headers.Authorization = `Bearer ${this.#apiKey}`;
    let payload: string | undefined;
    if (options.body !== undefined) {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(options.body);
    }

    for (let attempt = 1; ; attempt++) {
      let response: Response;
      try {
        response = await this.#fetch(url, {
          method,
          headers,
          body: payload,
          signal: AbortSignal.timeout(this.timeoutMs),
        });
      } catch (error) {
        if (attempt <= this.retries) {
          await sleep(this.#delay(attempt, null));
          continue;
        }
        throw new MedicError(
          `cannot reach Medic at ${this.baseUrl} (${method} ${path}): ${networkReason(error)}; ` +
            `gave up after ${attempt} attempt${attempt === 1 ? "" : "s"}`,
          { attempts: attempt, cause: error },
        );
      }

      const text = await response.text().catch(() => "");
      let reply: unknown;
      try {
        reply = text ? JSON.parse(text) : undefined;
      } catch {
        reply = { message: text.slice(0, 200) };
      }
      if (response.ok) return ((reply as Envelope<T> | undefined)?.results ?? null) as T;

      const status = response.status;
      if ((status === 429 || status >= 500) && attempt <= this.retries) {
        await sleep(this.#delay(attempt, response.headers.get("retry-after")));
        continue;
      }
      const message = (reply as Partial<Envelope<unknown>> | undefined)?.message || response.statusText || "error";
      throw new MedicError(`${method} ${path}: HTTP ${status}: ${message}`, { status, body: reply, attempts: attempt });
    }
  }
}

export default MedicClient;
