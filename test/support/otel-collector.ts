import { execFile, spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { REPO_ROOT } from '../../scripts/repo-root.ts';
import { freePorts } from '../plane/ports.ts';
import { eventually } from './eventually.ts';

/** One OTLP attribute value as the JSON encoding writes it (64-bit integers as strings). */
type AnyValue = { stringValue?: string; intValue?: string | number; boolValue?: boolean; doubleValue?: number };

interface OtlpSpanJson {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: Array<{ key: string; value: AnyValue }>;
  events?: Array<{ name: string; timeUnixNano: string }>;
  links?: Array<{ traceId: string; spanId: string }>;
  status?: { code?: number; message?: string };
}

interface ExportRequestJson {
  resourceSpans?: Array<{
    resource?: { attributes?: Array<{ key: string; value: AnyValue }> };
    scopeSpans?: Array<{ spans?: OtlpSpanJson[] }>;
  }>;
}

/** A span as the collector forwarded it, with attributes flattened. */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  /** '' for a root span. */
  parentSpanId: string;
  name: string;
  /** OTLP SpanKind: 1 internal, 2 server. */
  kind: number;
  attributes: Record<string, string | number | boolean>;
  resource: Record<string, string | number | boolean>;
  events: string[];
  links: Array<{ traceId: string; spanId: string }>;
  statusCode: number;
}

function flatten(attributes: Array<{ key: string; value: AnyValue }> = []): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const { key, value } of attributes) {
    out[key] = value.stringValue ?? (value.intValue !== undefined ? Number(value.intValue) : undefined) ?? value.boolValue ?? value.doubleValue ?? '';
  }
  return out;
}

export interface OtelCollector {
  /** OTLP/HTTP receiver base URL (http://127.0.0.1:port), what OTEL_EXPORTER_OTLP_ENDPOINT takes. */
  readonly httpEndpoint: string;
  /** OTLP/gRPC receiver URL. */
  readonly grpcEndpoint: string;
  /** Every span the collector has forwarded so far. */
  readonly spans: ReceivedSpan[];
  close(): Promise<void>;
}

function listening(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', reject);
  });
}

/**
 * A real OpenTelemetry Collector (built by test/tools/build-otelcol.sh) on loopback ports: its OTLP
 * receiver takes the runtime's spans, its otlphttp exporter forwards them as OTLP JSON to an HTTP
 * server here, which collects them.
 */
export async function startOtelCollector(): Promise<OtelCollector> {
  const binary = (await promisify(execFile)('bash', [join(REPO_ROOT, 'test/tools/build-otelcol.sh')], { timeout: 600_000 })).stdout.trim();
  const spans: ReceivedSpan[] = [];
  const sink: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as ExportRequestJson;
      for (const resourceSpans of body.resourceSpans ?? []) {
        const resource = flatten(resourceSpans.resource?.attributes);
        for (const scope of resourceSpans.scopeSpans ?? []) {
          for (const span of scope.spans ?? []) {
            spans.push({
              traceId: span.traceId,
              spanId: span.spanId,
              parentSpanId: span.parentSpanId ?? '',
              name: span.name,
              kind: span.kind,
              attributes: flatten(span.attributes),
              resource,
              events: (span.events ?? []).map((event) => event.name),
              links: (span.links ?? []).map(({ traceId, spanId }) => ({ traceId, spanId })),
              statusCode: span.status?.code ?? 0,
            });
          }
        }
      }
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
  const sinkPort = (sink.address() as { port: number }).port;
  const [httpPort, grpcPort] = (await freePorts(2)) as [number, number];
  const dir = await mkdtemp(join(tmpdir(), 'modelship-otelcol-'));
  const config = {
    receivers: { otlp: { protocols: { http: { endpoint: `127.0.0.1:${httpPort}` }, grpc: { endpoint: `127.0.0.1:${grpcPort}` } } } },
    exporters: {
      otlphttp: {
        endpoint: `http://127.0.0.1:${sinkPort}`,
        encoding: 'json',
        compression: 'none',
        retry_on_failure: { enabled: false },
      },
    },
    service: {
      pipelines: { traces: { receivers: ['otlp'], exporters: ['otlphttp'] } },
      // No metrics endpoint (its default port, 8888, is shared by every collector on the machine).
      telemetry: { metrics: { level: 'none' }, logs: { level: 'warn' } },
    },
  };
  await writeFile(join(dir, 'config.yaml'), JSON.stringify(config));
  const collector = spawn(binary, [`--config=file:${join(dir, 'config.yaml')}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  collector.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString('utf8')).slice(-4096)));
  try {
    await eventually(async () => {
      expect(collector.exitCode, `collector exited: ${stderr}`).to.equal(null);
      await Promise.all([listening(httpPort), listening(grpcPort)]);
    }, { timeoutMs: 30_000, intervalMs: 100 });
  } catch (error) {
    collector.kill('SIGKILL');
    sink.close();
    throw error;
  }
  return {
    httpEndpoint: `http://127.0.0.1:${httpPort}`,
    grpcEndpoint: `http://127.0.0.1:${grpcPort}`,
    spans,
    close: async () => {
      if (collector.exitCode === null && collector.signalCode === null) {
        const exited = new Promise((resolve) => collector.once('exit', resolve));
        collector.kill('SIGTERM');
        await exited;
      }
      await new Promise((resolve) => sink.close(resolve));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
