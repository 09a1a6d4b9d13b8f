import { GrpcTestClient, modelInferSerializers } from '../../test/runtime/grpc-client.ts';

export interface GrpcLoadResult {
  readonly requests: number;
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

/** Closed loop: `concurrency` ModelInfer calls in flight over one HTTP/2 channel, bounded in time and count. */
export async function grpcLoad(
  address: string,
  request: (i: number) => Record<string, unknown>,
  options: { concurrency: number; durationMs: number; maxRequests: number },
): Promise<GrpcLoadResult> {
  const client = new GrpcTestClient(address);
  await client.waitUntilServing();
  const latencies: number[] = [];
  let next = 0;
  const deadline = performance.now() + options.durationMs;
  const started = performance.now();
  try {
    await Promise.all(Array.from({ length: options.concurrency }, async () => {
      while (performance.now() < deadline && latencies.length < options.maxRequests) {
        const sentAt = performance.now();
        await client.call('ModelInfer', request(next++));
        latencies.push(performance.now() - sentAt);
      }
    }));
  } finally {
    client.close();
  }
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? Number.NaN;
  return { requests: latencies.length, requestsPerSecond: latencies.length / seconds, p50Ms: at(0.5), p99Ms: at(0.99) };
}

/** The server's ModelInfer answer to `request`, as protobuf bytes (for a fixed-answer floor server). */
export async function grpcAnswerBytes(address: string, request: Record<string, unknown>): Promise<Buffer> {
  const client = new GrpcTestClient(address);
  try {
    return modelInferSerializers.responseSerialize(await client.call('ModelInfer', request));
  } finally {
    client.close();
  }
}
