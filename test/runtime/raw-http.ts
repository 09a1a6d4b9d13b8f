import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** What came back on one connection: an HTTP answer, or the server closing without one. */
export type RawOutcome =
  | { readonly kind: 'answer'; readonly status: number; readonly headers: Readonly<Record<string, string>>; readonly body: Buffer }
  | { readonly kind: 'closed'; readonly received: Buffer };

export interface RawSendOptions {
  /** Pause between the parts of `parts` (trickling, as a slow-loris client does). */
  readonly pauseMs?: number;
  /** After the last part: 'half-close' ends our side (FIN) and keeps reading; 'keep-open' just waits. */
  readonly after?: 'half-close' | 'keep-open';
  /** The client gives up (and the call rejects) when no verdict arrives by then: a hang. */
  readonly deadlineMs: number;
}

function parseAnswer(received: Buffer): RawOutcome {
  const split = received.indexOf('\r\n\r\n');
  if (split < 0 || !received.subarray(0, 5).equals(Buffer.from('HTTP/'))) return { kind: 'closed', received };
  const [statusLine = '', ...lines] = received.subarray(0, split).toString('latin1').split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { kind: 'answer', status: Number(statusLine.split(' ')[1]), headers, body: received.subarray(split + 4) };
}

/**
 * Writes raw bytes on a fresh loopback connection, exactly as given (headers that lie included), and
 * reads until the server closes it. Send `Connection: close` to get one answer per connection.
 */
export async function sendRaw(port: number, parts: readonly (string | Uint8Array)[], options: RawSendOptions): Promise<RawOutcome> {
  const socket = connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  const closed = new Promise<RawOutcome>((resolve) => {
    socket.once('close', () => resolve(parseAnswer(Buffer.concat(chunks))));
    // A reset after the server answered and closed is still a verdict; 'close' follows.
    socket.on('error', () => undefined);
  });
  let deadline: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    deadline = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer and no close within ${options.deadlineMs} ms (received ${Buffer.concat(chunks).length} bytes)`));
    }, options.deadlineMs);
  });
  const writing = (async () => {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    for (const [i, part] of parts.entries()) {
      if (socket.destroyed) return;
      if (i > 0 && options.pauseMs) await sleep(options.pauseMs);
      if (socket.destroyed) return;
      socket.write(part);
    }
    if (options.after === 'half-close' && !socket.destroyed) socket.end();
  })();
  try {
    return await Promise.race([closed, hang, writing.then(() => closed)]);
  } finally {
    clearTimeout(deadline);
    socket.destroy();
  }
}

/** An HTTP/1.1 request head; `Connection: close` unless the caller's headers say otherwise. */
export function requestHead(method: string, path: string, headers: Readonly<Record<string, string | number>>): string {
  const lines = Object.entries({ Host: '127.0.0.1', Connection: 'close', ...headers }).map(([name, value]) => `${name}: ${value}`);
  return `${method} ${path} HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n`;
}

/** Current resident set size of a process (Linux), in bytes. */
export async function residentBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
  if (kib === undefined) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(kib) * 1024;
}
