import { connect, type Socket } from 'node:net';

export interface LoadResult {
  readonly concurrency: number;
  readonly requests: number;
  readonly errors: number;
  readonly seconds: number;
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** The same, per HTTP status (under overload, accepted 200s and refused 429s differ widely). */
  readonly byStatus: Readonly<Record<number, { readonly count: number; readonly p50Ms: number; readonly p99Ms: number }>>;
}

export interface LoadOptions {
  readonly url: string;
  readonly path: string;
  readonly bodies: readonly Buffer[];
  /** Content-Type of every request (default application/json). */
  readonly contentType?: string;
  /** Extra header lines for body i (each ending in CRLF), e.g. the binary tensor extension's length header. */
  readonly extraHeaders?: readonly string[];
  readonly concurrency: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  /** Hard cap on measured requests, so a run is bounded in count as well as time. */
  readonly maxRequests: number;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/**
 * Closed-loop load over keep-alive HTTP/1.1 on raw sockets: each of `concurrency` connections sends
 * the next request as soon as the previous response is complete. A hand-rolled client because its
 * own cost per request (a few microseconds) must stay far below the servers' it measures.
 */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const { hostname, port } = new URL(options.url);
  const heads = options.bodies.map((body, i) => Buffer.from(
    `POST ${options.path} HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: ${options.contentType ?? 'application/json'}\r\n`
    + `${options.extraHeaders?.[i] ?? ''}Content-Length: ${body.length}\r\n\r\n`,
  ));
  const latencies = new Float64Array(options.maxRequests);
  const statuses = new Uint16Array(options.maxRequests);
  let measured = 0;
  let errors = 0;
  let phase: 'warmup' | 'measure' | 'done' = 'warmup';
  let measureEnd = 0;

  const sockets = await Promise.all(Array.from({ length: options.concurrency }, () => new Promise<Socket>((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => resolve(socket));
    socket.setNoDelay(true);
    socket.once('error', reject);
  })));

  const finished = sockets.map((socket, index) => new Promise<void>((resolve) => {
    let pending: Buffer = Buffer.alloc(0);
    let sentAt = 0;
    let next = index;
    const send = () => {
      if (phase === 'done') {
        socket.end();
        resolve();
        return;
      }
      const i = next++ % options.bodies.length;
      sentAt = performance.now();
      socket.write(Buffer.concat([heads[i] as Buffer, options.bodies[i] as Buffer]));
    };
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      for (;;) {
        const headerEnd = pending.indexOf('\r\n\r\n');
        if (headerEnd < 0) return;
        const head = pending.toString('latin1', 0, headerEnd);
        const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
        const total = headerEnd + 4 + length;
        if (pending.length < total) return;
        const status = Number(head.slice(9, 12));
        pending = pending.subarray(total);
        if (phase === 'measure') {
          if (status !== 200) errors++;
          if (measured < options.maxRequests) {
            statuses[measured] = status;
            latencies[measured++] = performance.now() - sentAt;
          }
          if (measured >= options.maxRequests) stop();
        }
        send();
      }
    });
    socket.on('error', () => {
      errors++;
      resolve();
    });
    send();
  }));

  function stop(): void {
    if (phase !== 'measure') return;
    phase = 'done';
    measureEnd = performance.now();
  }
  await new Promise((resolve) => setTimeout(resolve, options.warmupMs));
  phase = 'measure';
  const measureStart = performance.now();
  const timer = setTimeout(stop, options.durationMs);
  await Promise.all(finished);
  clearTimeout(timer);
  const sorted = latencies.slice(0, measured).sort();
  const seconds = (measureEnd - measureStart) / 1000;
  const byStatus: Record<number, { count: number; p50Ms: number; p99Ms: number }> = {};
  for (const status of new Set(statuses.subarray(0, measured))) {
    const own = latencies.slice(0, measured).filter((_, i) => statuses[i] === status).sort();
    byStatus[status] = { count: own.length, p50Ms: percentile(own, 50), p99Ms: percentile(own, 99) };
  }
  return {
    concurrency: options.concurrency,
    requests: measured,
    errors,
    seconds,
    requestsPerSecond: measured / seconds,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    byStatus,
  };
}
