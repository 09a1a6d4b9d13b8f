import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { BATCH_SPAN_PREFIX, GRPC_INFER_SPAN, TraceAttr, TraceEvent } from '../../runtime/tracing/attributes.ts';
import { startOtelCollector, type OtelCollector, type ReceivedSpan } from '../support/otel-collector.ts';
import { eventually } from '../support/eventually.ts';
import { GrpcTestClient, wideInfer } from './grpc-client.ts';
import { modelPath, postJson, seededFloats } from './helpers.ts';
import { spawnRuntime, type RuntimeProcess } from './process.ts';

const SERVER = 2;
const INTERNAL = 1;
const WIDE_FEATURES = 64;

interface Parent {
  traceId: string;
  spanId: string;
  traceparent: string;
}

function parent(sampled = true): Parent {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-${sampled ? '01' : '00'}` };
}

function wideRequest(rows: number, id: string): Record<string, unknown> {
  return { id, inputs: [{ name: 'features', datatype: 'FP32', shape: [rows, WIDE_FEATURES], data: seededFloats(rows, rows * WIDE_FEATURES, 2) }] };
}

async function ready(runtime: RuntimeProcess): Promise<{ url: string; grpc: string; tracing: unknown }> {
  const line = await runtime.waitForLog((entry) => entry.msg === 'model ready');
  return { url: line.url as string, grpc: line.grpc as string, tracing: line.tracing };
}

async function stop(runtime: RuntimeProcess): Promise<void> {
  runtime.child.kill('SIGTERM');
  expect(await runtime.exited()).to.equal(0);
}

const inferLine = (runtime: RuntimeProcess, id: string) => runtime.lines.find((line) => line.msg === 'infer' && line.reqId === id);

describe('runtime: OpenTelemetry tracing into a real OpenTelemetry Collector (wide MLP)', function () {
  this.timeout(180_000);
  let collector: OtelCollector;

  before(async () => {
    collector = await startOtelCollector();
  });

  after(async () => {
    await collector?.close();
  });

  describe('REST and gRPC requests with a traceparent, ratio 0 for new traces, OTLP/HTTP protobuf', () => {
    const restParents = Array.from({ length: 24 }, () => parent());
    const grpcParents = Array.from({ length: 8 }, () => parent());
    const unsampledParents = Array.from({ length: 4 }, () => parent(false));
    const badParent = parent();
    let runtime: RuntimeProcess;
    let spans: ReceivedSpan[];

    before(async () => {
      runtime = spawnRuntime({
        modelUri: modelPath('wide-mlp-fp32.onnx'),
        modelName: 'wide',
        port: '0',
        maxBatchSize: '64',
        maxConcurrentRuns: '1',
        otelEndpoint: collector.httpEndpoint,
        otelTracesSampler: 'parentbased_traceidratio',
        otelTracesSamplerArg: '0',
        otelServiceName: 'wide-svc',
        otelResourceAttributes: 'k8s.namespace.name=team-a,modelship.revision=abc123',
      });
      const { url, grpc } = await ready(runtime);
      const client = new GrpcTestClient(grpc);
      try {
        await client.waitUntilServing();
        const infer = (id: string, headers: Record<string, string>, rows = 1 + (id.length % 3)) =>
          postJson(`${url}/v2/models/wide/infer`, wideRequest(rows, id), headers).then(({ status }) => expect(status, id).to.equal(200));
        // All at once, so that runs merge several of them.
        await Promise.all([
          ...restParents.map((p, i) => infer(`rest-${i}`, { traceparent: p.traceparent })),
          ...unsampledParents.map((p, i) => infer(`unsampled-${i}`, { traceparent: p.traceparent })),
          ...Array.from({ length: 8 }, (_, i) => infer(`plain-${i}`, {})),
          ...grpcParents.map((p, i) => client.call('ModelInfer', wideInfer(2, new Float32Array(seededFloats(i, 128)), `grpc-${i}`), undefined, { traceparent: p.traceparent })),
        ]);
        const bad = await postJson(`${url}/v2/models/wide/infer`, { id: 'bad', inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }] }, { traceparent: badParent.traceparent });
        expect(bad.status).to.equal(400);
      } finally {
        client.close();
      }
      // SIGTERM exports what the batch span processor still holds.
      await stop(runtime);
      const expected = restParents.length + grpcParents.length + 1;
      spans = await eventually(async () => {
        const server = collector.spans.filter((span) => span.resource['service.name'] === 'wide-svc' && span.kind === SERVER);
        expect(server.length).to.be.at.least(expected);
        return collector.spans.filter((span) => span.resource['service.name'] === 'wide-svc');
      }, { timeoutMs: 30_000 });
    });

    const requestSpan = (p: Parent) => {
      const found = spans.filter((span) => span.kind === SERVER && span.traceId === p.traceId);
      expect(found, `spans of trace ${p.traceId}`).to.have.length(1);
      return found[0] as ReceivedSpan;
    };

    it('a REST request span is the child of the traceparent span, with the route, model, rows and status', () => {
      for (const p of restParents) {
        const span = requestSpan(p);
        expect(span.parentSpanId).to.equal(p.spanId);
        expect(span.name).to.equal('POST /v2/models/{model}/infer');
        expect(span.attributes).to.include({
          'http.request.method': 'POST',
          'http.route': '/v2/models/{model}/infer',
          'url.path': '/v2/models/wide/infer',
          'http.response.status_code': 200,
          [TraceAttr.modelName]: 'wide',
          [TraceAttr.modelVersion]: '1',
        });
        expect(span.attributes[TraceAttr.requestRows]).to.be.within(1, 3);
        expect(span.attributes[TraceAttr.batchRows]).to.be.at.least(span.attributes[TraceAttr.requestRows] as number);
        expect(span.events).to.deep.equal([TraceEvent.queued, TraceEvent.inferenceStart, TraceEvent.inferenceEnd, TraceEvent.encoded]);
        expect(span.statusCode, 'unset').to.equal(0);
      }
    });

    it('a gRPC request span is the child of the traceparent in the call metadata', () => {
      for (const p of grpcParents) {
        const span = requestSpan(p);
        expect(span.parentSpanId).to.equal(p.spanId);
        expect(span.name).to.equal(GRPC_INFER_SPAN);
        expect(span.attributes).to.include({
          'rpc.system': 'grpc',
          'rpc.service': 'inference.GRPCInferenceService',
          'rpc.method': 'ModelInfer',
          'rpc.grpc.status_code': 0,
          [TraceAttr.modelName]: 'wide',
          [TraceAttr.requestRows]: 2,
        });
        expect(span.events).to.deep.equal([TraceEvent.queued, TraceEvent.inferenceStart, TraceEvent.inferenceEnd, TraceEvent.encoded]);
      }
    });

    it('one batch span per run, linked to every request span it served, with the rows and request count', () => {
      const batches = spans.filter((span) => span.kind === INTERNAL);
      expect(batches.length).to.be.greaterThan(0);
      for (const batch of batches) {
        expect(batch.name).to.equal(`${BATCH_SPAN_PREFIX}wide`);
        expect(batch.parentSpanId, 'a root span').to.equal('');
        expect(batch.attributes[TraceAttr.batchRequests]).to.be.at.least(batch.links.length);
      }
      for (const p of [...restParents, ...grpcParents]) {
        const span = requestSpan(p);
        const linking = batches.filter((batch) => batch.links.some((link) => link.traceId === span.traceId && link.spanId === span.spanId));
        expect(linking, `batch spans linking ${span.spanId}`).to.have.length(1);
        expect(linking[0]?.attributes[TraceAttr.batchRows]).to.equal(span.attributes[TraceAttr.batchRows]);
        expect(span.links, 'the request links back to its batch').to.deep.equal([{ traceId: linking[0]?.traceId, spanId: linking[0]?.spanId }]);
      }
      expect(Math.max(...batches.map((batch) => batch.links.length)), 'most request spans one run served').to.be.at.least(2);
    });

    it('requests without a sampled traceparent are not traced at ratio 0, and their runs leave no batch span', () => {
      const traced = new Set([...restParents, ...grpcParents, badParent].map((p) => p.traceId));
      expect(spans.filter((span) => span.kind === SERVER && !traced.has(span.traceId))).to.deep.equal([]);
      for (const batch of spans.filter((span) => span.kind === INTERNAL)) {
        expect(batch.links.length).to.be.greaterThan(0);
        for (const link of batch.links) expect(traced.has(link.traceId)).to.equal(true);
      }
    });

    it('a refused request is traced with its 4xx status, which is not a server error', () => {
      const span = requestSpan(badParent);
      expect(span.attributes).to.include({ 'http.response.status_code': 400, 'error.type': '400' });
      expect(span.statusCode, 'unset').to.equal(0);
      expect(span.events).to.deep.equal([]);
    });

    it('the resource carries OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES', () => {
      expect(spans[0]?.resource).to.include({ 'service.name': 'wide-svc', 'k8s.namespace.name': 'team-a', 'modelship.revision': 'abc123' });
    });

    it("each request's log line carries its trace_id and span_id", () => {
      restParents.forEach((p, i) => {
        const span = requestSpan(p);
        expect(inferLine(runtime, `rest-${i}`)).to.include({ trace_id: p.traceId, span_id: span.spanId, status: 200 });
      });
      grpcParents.forEach((p, i) => {
        expect(inferLine(runtime, `grpc-${i}`)).to.include({ trace_id: p.traceId, span_id: requestSpan(p).spanId, protocol: 'grpc' });
      });
      // An unsampled request still logs the trace it belongs to.
      unsampledParents.forEach((p, i) => expect(inferLine(runtime, `unsampled-${i}`)?.trace_id).to.equal(p.traceId));
    });
  });

  it('ratio 1 traces requests without a traceparent as new traces, exported over OTLP/gRPC, service.name the model name', async () => {
    const runtime = spawnRuntime({
      modelUri: modelPath('wide-mlp-fp32.onnx'),
      modelName: 'wide-grpc-export',
      port: '0',
      otelEndpoint: collector.grpcEndpoint,
      otelProtocol: 'grpc',
      otelTracesSampler: 'parentbased_traceidratio',
      otelTracesSamplerArg: '1',
    });
    const { url, tracing } = await ready(runtime);
    expect(tracing).to.equal('grpc');
    for (let i = 0; i < 3; i++) {
      const { status } = await postJson(`${url}/v2/models/wide-grpc-export/infer`, wideRequest(1, `new-${i}`));
      expect(status).to.equal(200);
    }
    await stop(runtime);
    const spans = await eventually(async () => {
      const found = collector.spans.filter((span) => span.resource['service.name'] === 'wide-grpc-export' && span.kind === SERVER);
      expect(found).to.have.length(3);
      return found;
    }, { timeoutMs: 30_000 });
    for (const span of spans) expect(span.parentSpanId, 'a new trace').to.equal('');
    for (let i = 0; i < 3; i++) {
      const line = inferLine(runtime, `new-${i}`);
      expect(spans.map((span) => span.traceId)).to.include(line?.trace_id);
    }
  });

  it('with no OTEL_* variables tracing is off: no exporter, no ids in the log line', async () => {
    const runtime = spawnRuntime({ modelUri: modelPath('wide-mlp-fp32.onnx'), modelName: 'untraced', port: '0' });
    const { url, tracing } = await ready(runtime);
    expect(tracing).to.equal(false);
    const { status } = await postJson(`${url}/v2/models/untraced/infer`, wideRequest(1, 'quiet'), { traceparent: parent().traceparent });
    expect(status).to.equal(200);
    await stop(runtime);
    const line = inferLine(runtime, 'quiet');
    expect(line).to.include({ status: 200 });
    expect(line).to.not.have.any.keys('trace_id', 'span_id');
  });
});
