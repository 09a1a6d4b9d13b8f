import { ROOT_CONTEXT, trace, TraceFlags } from '@opentelemetry/api';
import { AlwaysOnSampler, BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { expect } from 'chai';
import { DynamicBatcher, type BatchingSettings } from '../../../runtime/batching/dynamic-batcher.ts';
import type { NamedTensors } from '../../../runtime/model/tensor.ts';
import { TraceAttr, TraceEvent } from '../../../runtime/tracing/attributes.ts';
import { LinkedSampler } from '../../../runtime/tracing/linked-sampler.ts';
import { Tracing } from '../../../runtime/tracing/tracing.ts';

const SETTINGS: BatchingSettings = { maxBatchSize: 8, maxQueueDelayMs: 5, preferredBatchSizes: [], maxQueueSize: 100, maxConcurrentRuns: 1 };
const feeds = (rows: number): NamedTensors => ({ x: { datatype: 'FP32', shape: [rows, 1], data: new Float32Array(rows) } });
const double = async (input: NamedTensors): Promise<NamedTensors> => ({ y: input.x as NamedTensors[string] });

describe('unit: the batcher traces each run with the real OpenTelemetry SDK (in-memory exporter)', () => {
  it('one batch span per merged run, linked to the recorded request spans only; each request sees its run end before its answer', async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ sampler: new LinkedSampler(new AlwaysOnSampler()), spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const tracer = provider.getTracer('test');
    const tracing = new Tracing(provider, tracer, { name: 'm', version: '1' });
    const batcher = new DynamicBatcher(double, SETTINGS, { onRun: () => undefined }, tracing);

    const recorded = [tracer.startSpan('a'), tracer.startSpan('b')];
    const unsampled = trace.wrapSpanContext({ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: TraceFlags.NONE });
    const answered = await Promise.all([
      ...recorded.map((span, i) => batcher.submit(feeds(i + 1), 'k', i + 1, undefined, span).then(() => (span as unknown as ReadableSpan).events.map((e) => e.name))),
      batcher.submit(feeds(1), 'k', 1, undefined, unsampled),
      batcher.submit(feeds(1), 'k', 1),
    ]);
    expect(answered.slice(0, 2), 'events when the answer arrives').to.deep.equal([[TraceEvent.inferenceStart, TraceEvent.inferenceEnd], [TraceEvent.inferenceStart, TraceEvent.inferenceEnd]]);

    const [batch, ...others] = exporter.getFinishedSpans();
    expect(others).to.deep.equal([]);
    expect(batch?.name).to.equal('batch m');
    expect(batch?.attributes).to.include({ [TraceAttr.batchRows]: 5, [TraceAttr.batchRequests]: 4 });
    expect(batch?.links.map((link) => link.context.spanId)).to.deep.equal(recorded.map((span) => span.spanContext().spanId));
    for (const span of recorded) {
      expect((span as unknown as ReadableSpan).links.map((link) => link.context.spanId)).to.deep.equal([batch?.spanContext().spanId]);
      expect((span as unknown as ReadableSpan).attributes[TraceAttr.batchRows]).to.equal(5);
    }
  });

  it('a run that serves no recorded request leaves no batch span', async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const batcher = new DynamicBatcher(double, SETTINGS, { onRun: () => undefined }, new Tracing(provider, provider.getTracer('test'), { name: 'm', version: '1' }));
    const unsampled = trace.getSpan(trace.setSpanContext(ROOT_CONTEXT, { traceId: '1af7651916cd43dd8448eb211c80319c', spanId: 'c7ad6b7169203331', traceFlags: TraceFlags.NONE }));
    await Promise.all([batcher.submit(feeds(1), 'k', 1, undefined, unsampled), batcher.submit(feeds(1), 'k', 1)]);
    expect(exporter.getFinishedSpans()).to.deep.equal([]);
  });
});
