import { fraudRequest } from '../runtime/helpers.ts';

/** One request of a load run: when it was sent and answered, and which model version answered it. */
export interface Answer {
  sentAt: number;
  answeredAt: number;
  status: number;
  /** model_version of a 200 answer; the error text otherwise. */
  version: string;
}

export interface LoadRun {
  answers: Answer[];
  /** Stops sending and resolves once the requests in flight are answered. */
  stop(): Promise<Answer[]>;
}

/**
 * Steady V2 traffic from `concurrency` clients (keep-alive connections, as a real client keeps),
 * bounded by `maxSeconds` and `maxRequests` whatever the test does; with `perSecond`, no faster
 * than that in all (a bounded load leaves the two cores to the pods and the control plane); each
 * request carries `rows` rows of the fraud model's features.
 */
export function startLoad(url: string, options: { concurrency?: number; maxSeconds?: number; maxRequests?: number; perSecond?: number; rows?: number } = {}): LoadRun {
  const { concurrency = 4, maxSeconds = 300, maxRequests = 100_000, perSecond, rows = 1 } = options;
  const started = Date.now();
  const answers: Answer[] = [];
  const deadline = Date.now() + maxSeconds * 1000;
  let stopped = false;
  let sent = 0;
  const body = JSON.stringify(fraudRequest(rows, 11));
  const client = async (): Promise<void> => {
    while (!stopped && Date.now() < deadline && sent < maxRequests) {
      // Request n goes out no earlier than n / perSecond after the start.
      const due = perSecond ? started + (sent * 1000) / perSecond - Date.now() : 0;
      if (due > 0) await new Promise((resolve) => setTimeout(resolve, due));
      sent++;
      const sentAt = Date.now();
      try {
        const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(10_000) });
        const text = await response.text();
        let answer: { model_version?: string; error?: string };
        try {
          answer = JSON.parse(text) as { model_version?: string; error?: string };
        } catch {
          // Not the runtime's JSON: a failure that says who answered what (a CI run once saw only
          // "Unexpected end of JSON input" for 2,476 answers in a row).
          const headers = [...response.headers].map(([key, value]) => `${key}: ${value}`).join('; ');
          throw new Error(`HTTP ${response.status}, not JSON (${text.length} bytes: ${JSON.stringify(text.slice(0, 120))}; headers ${headers})`);
        }
        answers.push({ sentAt, answeredAt: Date.now(), status: response.status, version: response.ok ? String(answer.model_version) : String(answer.error) });
      } catch (error) {
        answers.push({ sentAt, answeredAt: Date.now(), status: 0, version: error instanceof Error ? `${error.message} ${String((error.cause as Error | undefined)?.message ?? '')}` : String(error) });
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  };
  const clients = Promise.all(Array.from({ length: concurrency }, client));
  return {
    answers,
    async stop() {
      stopped = true;
      await clients;
      return answers;
    },
  };
}
