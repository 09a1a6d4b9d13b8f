import { diag, DiagLogLevel, ROOT_CONTEXT, SpanKind, type Span, type TextMapGetter, type Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { ATTR_HTTP_REQUEST_METHOD, ATTR_HTTP_ROUTE, ATTR_SERVICE_NAME, ATTR_URL_PATH } from '@opentelemetry/semantic-conventions';
import { ATTR_RPC_METHOD, ATTR_RPC_SERVICE, ATTR_RPC_SYSTEM } from '@opentelemetry/semantic-conventions/incubating';
import type { IncomingHttpHeaders } from 'node:http';
import type { BatchTracer } from '../batching/dynamic-batcher.ts';
import type { Logger } from '../logging.ts';
import { BATCH_SPAN_PREFIX, GRPC_INFER_SPAN, TraceAttr, TraceEvent } from './attributes.ts';
import { RequestTrace } from './request-trace.ts';
import { samplerFor } from './sampler.ts';
import type { OtlpProtocol, TracingSettings } from './settings.ts';
import { RUNTIME_GRPC_SERVICE } from '../contract.ts';

const HTTP_ROUTE = '/v2/models/{model}/infer';
const HTTP_VERSIONED_ROUTE = '/v2/models/{model}/versions/{version}/infer';
/** Longest a shutdown waits for the last spans to leave: a dead collector must not hold up the pod's exit. */
const SHUTDOWN_FLUSH_MS = 5000;

const headerGetter: TextMapGetter<IncomingHttpHeaders> = {
  keys: (headers) => Object.keys(headers),
  get: (headers, key) => headers[key],
};

/** The OTLP exporter for the protocol; each reads its endpoint, headers, timeout and TLS from OTEL_EXPORTER_OTLP_*. Loaded only when tracing is on. */
async function exporterFor(protocol: OtlpProtocol): Promise<SpanExporter> {
  switch (protocol) {
    case 'http/protobuf':
      return new (await import('@opentelemetry/exporter-trace-otlp-proto')).OTLPTraceExporter();
    case 'http/json':
      return new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter();
    case 'grpc':
      return new (await import('@opentelemetry/exporter-trace-otlp-grpc')).OTLPTraceExporter();
  }
}

interface ServedModel {
  readonly name: string;
  readonly version: string;
}

/**
 * Request spans (SERVER, parent from the W3C traceparent) and batch spans (INTERNAL, linked to the
 * requests each run served), exported over OTLP in batches. Contexts are passed by hand, not through
 * AsyncLocalStorage, and nothing patches node:http: the cost is the spans themselves.
 */
export class Tracing implements BatchTracer {
  private readonly propagator = new W3CTraceContextPropagator();

  constructor(
    private readonly provider: BasicTracerProvider,
    private readonly tracer: Tracer,
    private readonly model: ServedModel,
  ) {}

  startHttp(headers: IncomingHttpHeaders, urlPath: string, model: string, version: string | undefined): RequestTrace {
    const route = version === undefined ? HTTP_ROUTE : HTTP_VERSIONED_ROUTE;
    const parent = this.propagator.extract(ROOT_CONTEXT, headers, headerGetter);
    return new RequestTrace(this.tracer.startSpan(`POST ${route}`, {
      kind: SpanKind.SERVER,
      attributes: {
        [ATTR_HTTP_REQUEST_METHOD]: 'POST',
        [ATTR_HTTP_ROUTE]: route,
        [ATTR_URL_PATH]: urlPath,
        [TraceAttr.modelName]: model,
        [TraceAttr.modelVersion]: version ?? this.model.version,
      },
    }, parent));
  }

  /** `headers`: the call's HTTP/2 headers, which carry its metadata. */
  startGrpc(headers: IncomingHttpHeaders, model: string, version: string | undefined): RequestTrace {
    const parent = this.propagator.extract(ROOT_CONTEXT, headers, headerGetter);
    return new RequestTrace(this.tracer.startSpan(GRPC_INFER_SPAN, {
      kind: SpanKind.SERVER,
      attributes: {
        [ATTR_RPC_SYSTEM]: 'grpc',
        [ATTR_RPC_SERVICE]: RUNTIME_GRPC_SERVICE,
        [ATTR_RPC_METHOD]: 'ModelInfer',
        [TraceAttr.modelName]: model,
        [TraceAttr.modelVersion]: version || this.model.version,
      },
    }, parent));
  }

  runStarted(spans: readonly Span[], rows: number, requests: number): () => void {
    const batch = this.tracer.startSpan(`${BATCH_SPAN_PREFIX}${this.model.name}`, {
      kind: SpanKind.INTERNAL,
      links: spans.map((span) => ({ context: span.spanContext() })),
      attributes: {
        [TraceAttr.modelName]: this.model.name,
        [TraceAttr.modelVersion]: this.model.version,
        [TraceAttr.batchRows]: rows,
        [TraceAttr.batchRequests]: requests,
      },
    }, ROOT_CONTEXT);
    const batchLink = { context: batch.spanContext() };
    for (const span of spans) {
      span.setAttribute(TraceAttr.batchRows, rows);
      span.addLink(batchLink);
      span.addEvent(TraceEvent.inferenceStart);
    }
    return () => {
      for (const span of spans) span.addEvent(TraceEvent.inferenceEnd);
      batch.end();
    };
  }

  /** Exports the spans still buffered (SIGTERM path), waiting at most a few seconds. */
  async shutdown(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.provider.shutdown(),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, SHUTDOWN_FLUSH_MS))),
    ]);
    clearTimeout(timer);
  }
}

/** OpenTelemetry's own complaints (an unreachable collector, dropped spans) as warning lines in the runtime's log. */
function logDiagnostics(logger: Logger): void {
  const warn = (message: string, ...args: unknown[]) => logger.warn({ otel: args.length ? args.map(String) : undefined }, `tracing: ${message}`);
  const ignore = () => {};
  diag.setLogger({ error: warn, warn, info: ignore, debug: ignore, verbose: ignore }, { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });
}

export async function startTracing(settings: TracingSettings, model: ServedModel, logger: Logger): Promise<Tracing> {
  logDiagnostics(logger);
  // service.name: OTEL_SERVICE_NAME, else one in OTEL_RESOURCE_ATTRIBUTES (the env detector), else the model name.
  const resource = defaultResource()
    .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: model.name }))
    .merge(detectResources({ detectors: [envDetector] }))
    .merge(settings.serviceName ? resourceFromAttributes({ [ATTR_SERVICE_NAME]: settings.serviceName }) : null);
  const provider = new BasicTracerProvider({
    resource,
    sampler: samplerFor(settings),
    spanProcessors: [new BatchSpanProcessor(await exporterFor(settings.protocol))],
  });
  return new Tracing(provider, provider.getTracer('modelship-runtime'), model);
}
