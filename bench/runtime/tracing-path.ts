import type { Span } from '@opentelemetry/api';
import { pino } from 'pino';
import type { RequestTrace } from '../../runtime/tracing/request-trace.ts';
import { startTracing, type Tracing } from '../../runtime/tracing/tracing.ts';
import type { TracingSettings } from '../../runtime/tracing/settings.ts';

/**
 * The tracing work one request does in the runtime, in process and nothing else (no HTTP, no model):
 * what infer-handler.ts, the batcher and infer-accounting.ts call, with tracing off (`undefined`),
 * on at ratio 0, and on for every request, exporting to `endpoint`. CPU µs per request from
 * process.cpuUsage, export included (the loop yields every chunk so the batch span processor runs).
 */

const HEADERS = { host: '127.0.0.1', 'content-type': 'application/json', 'content-length': '1234' };
const BATCH = 8;
const CHUNK = 256;

function oneRequest(tracing: Tracing | undefined, batch: Span[]): RequestTrace | undefined {
  const trace = tracing?.startHttp(HEADERS, '/v2/models/m/infer', 'm', undefined);
  trace?.queued(1);
  if (trace?.span.isRecording()) batch.push(trace.span);
  return trace;
}

function finishOne(trace: RequestTrace | undefined): Record<string, unknown> {
  trace?.encoded();
  trace?.endHttp(200);
  const line = { reqId: 'r1', protocol: 'http', status: 200, latencyMs: 1.234 };
  return trace ? { ...line, ...trace.logFields() } : line;
}

async function measure(tracing: Tracing | undefined, requests: number): Promise<number> {
  const sink: unknown[] = [];
  const start = process.cpuUsage();
  for (let done = 0; done < requests; done += CHUNK) {
    for (let i = 0; i < CHUNK; i += BATCH) {
      const spans: Span[] = [];
      const traces = Array.from({ length: BATCH }, () => oneRequest(tracing, spans));
      const end = tracing && spans.length > 0 ? tracing.runStarted(spans, BATCH, BATCH) : undefined;
      end?.();
      for (const trace of traces) sink.push(finishOne(trace));
    }
    sink.length = 0;
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  const used = process.cpuUsage(start);
  return ((used.user + used.system) / requests);
}

/** µs of CPU per request for each configuration, median of `rounds`. */
export async function measureTracingPath(endpoint: string, requests: number, rounds: number): Promise<Array<[string, number]>> {
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = endpoint;
  const logger = pino({ level: 'silent' });
  const model = { name: 'm', version: '1' };
  const settings = (sampler: TracingSettings['sampler'], ratio: number): TracingSettings => ({ protocol: 'http/protobuf', sampler, ratio });
  const configs: Array<[string, Tracing | undefined]> = [
    ['off', undefined],
    ['on, ratio 0', await startTracing(settings('parentbased_traceidratio', 0), model, logger)],
    ['on, every request', await startTracing(settings('always_on', 1), model, logger)],
  ];
  const results = configs.map(() => [] as number[]);
  for (const [, tracing] of configs) await measure(tracing, requests / 4);
  for (let round = 0; round < rounds; round++) {
    for (const [i, [, tracing]] of configs.entries()) results[i]?.push(await measure(tracing, requests));
  }
  for (const [, tracing] of configs) await tracing?.shutdown();
  return configs.map(([label], i) => [label, [...(results[i] ?? [])].sort((a, b) => a - b)[Math.floor(rounds / 2)] as number]);
}
