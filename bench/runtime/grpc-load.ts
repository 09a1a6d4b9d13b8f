import { connect, constants, type ClientHttp2Session } from 'node:http2';
import { GrpcTestClient, modelInferSerializers } from '../../test/runtime/grpc-client.ts';

export interface GrpcLoadResult {
  readonly requests: number;
  /** Calls that did not end with grpc-status 0. */
  readonly errors: number;
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

const MODEL_INFER = '/inference.GRPCInferenceService/ModelInfer';

/** gRPC framing of each ModelInfer request message (protobufjs-encoded once, before the load). */
export function framedModelInferRequests(request: (i: number) => Record<string, unknown>, count: number): Buffer[] {
  return Array.from({ length: count }, (_, i) => {
    const message = modelInferSerializers.requestSerialize(request(i));
    const framed = Buffer.alloc(5 + message.length);
    framed.writeUInt32BE(message.length, 1);
    message.copy(framed, 5);
    return framed;
  });
}

/** A connection to a server that may still be starting (bounded: 10 s). */
async function connected(address: string): Promise<ClientHttp2Session> {
  for (let attempt = 0; ; attempt++) {
    const session = connect(`http://${address}`);
    const error = await new Promise<Error | undefined>((resolve) => {
      session.once('connect', () => resolve(undefined));
      session.once('error', resolve);
    });
    if (!error) return session;
    session.destroy();
    if (attempt >= 100) throw error;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Closed loop: `concurrency` ModelInfer calls in flight as streams of one HTTP/2 connection, bounded in
 * time and count. node:http2 directly, for the reason load.ts writes HTTP/1.1 by hand: the client's own
 * cost per call (@grpc/grpc-js's capped the runtime at about 8k calls/s here) must stay far below the
 * server's it measures. Each answer's status is checked (a call counts as an error unless grpc-status 0).
 */
export async function grpcLoad(
  address: string,
  framedRequests: readonly Buffer[],
  options: { concurrency: number; durationMs: number; maxRequests: number },
): Promise<GrpcLoadResult> {
  const session = await connected(address);
  const latencies = new Float64Array(options.maxRequests);
  let count = 0;
  let errors = 0;
  let next = 0;
  const deadline = performance.now() + options.durationMs;
  const started = performance.now();
  const call = (body: Buffer) => new Promise<boolean>((resolve) => {
    const stream = session.request({
      [constants.HTTP2_HEADER_METHOD]: 'POST', [constants.HTTP2_HEADER_PATH]: MODEL_INFER,
      'content-type': 'application/grpc', te: 'trailers',
    });
    let ok = false;
    stream.on('trailers', (trailers) => { ok = trailers['grpc-status'] === '0'; });
    stream.on('response', (headers) => { if (headers['grpc-status'] !== undefined) ok = headers['grpc-status'] === '0'; });
    stream.on('data', () => {});
    stream.on('close', () => resolve(ok));
    stream.on('error', () => resolve(false));
    stream.end(body);
  });
  try {
    await Promise.all(Array.from({ length: options.concurrency }, async () => {
      while (performance.now() < deadline && count < options.maxRequests) {
        const sentAt = performance.now();
        const ok = await call(framedRequests[next++ % framedRequests.length] as Buffer);
        if (!ok) errors++;
        if (count < options.maxRequests) latencies[count++] = performance.now() - sentAt;
      }
    }));
  } finally {
    session.close();
  }
  const seconds = (performance.now() - started) / 1000;
  const sorted = latencies.subarray(0, count).sort();
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
  return { requests: count, errors, requestsPerSecond: count / seconds, p50Ms: at(0.5), p99Ms: at(0.99) };
}

/** The server's ModelInfer answer to `request`, as protobuf bytes (for a fixed-answer floor server). */
export async function grpcAnswerBytes(address: string, request: Record<string, unknown>): Promise<Buffer> {
  const client = new GrpcTestClient(address);
  try {
    await client.waitUntilServing();
    return modelInferSerializers.responseSerialize(await client.call('ModelInfer', request));
  } finally {
    client.close();
  }
}
