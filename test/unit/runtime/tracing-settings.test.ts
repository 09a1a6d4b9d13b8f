import { ROOT_CONTEXT, SpanKind, TraceFlags, trace, type Link } from '@opentelemetry/api';
import { SamplingDecision } from '@opentelemetry/sdk-trace-base';
import { expect } from 'chai';
import { ConfigError, loadConfig } from '../../../runtime/config.ts';
import { samplerFor } from '../../../runtime/tracing/sampler.ts';
import { loadTracingSettings } from '../../../runtime/tracing/settings.ts';

const ENDPOINT = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' };
const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const SPAN_ID = 'b7ad6b7169203331';

describe('unit: tracing settings from the standard OTEL_* variables', () => {
  it('is off when no OTLP endpoint or exporter is set, so the runtime starts no exporter', () => {
    expect(loadTracingSettings({})).to.equal(undefined);
    expect(loadTracingSettings({ OTEL_TRACES_SAMPLER: 'always_on', OTEL_SERVICE_NAME: 'x' })).to.equal(undefined);
    expect(loadConfig({ MODELSHIP_MODEL_URI: 'm.onnx' })).not.to.have.property('tracing');
  });

  it('is on with an endpoint, a traces endpoint or OTEL_TRACES_EXPORTER=otlp, with the specification defaults', () => {
    const defaults = { protocol: 'http/protobuf', sampler: 'parentbased_always_on', ratio: 1 };
    expect(loadTracingSettings(ENDPOINT)).to.deep.equal(defaults);
    expect(loadTracingSettings({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://c:4318/v1/traces' })).to.deep.equal(defaults);
    expect(loadTracingSettings({ OTEL_TRACES_EXPORTER: 'otlp' })).to.deep.equal(defaults);
  });

  it('OTEL_SDK_DISABLED=true and OTEL_TRACES_EXPORTER=none turn it off whatever else is set', () => {
    expect(loadTracingSettings({ ...ENDPOINT, OTEL_SDK_DISABLED: 'true' })).to.equal(undefined);
    expect(loadTracingSettings({ ...ENDPOINT, OTEL_TRACES_EXPORTER: 'none' })).to.equal(undefined);
  });

  it('reads the protocol, sampler, ratio and service name', () => {
    expect(loadTracingSettings({
      ...ENDPOINT,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.25',
      OTEL_SERVICE_NAME: 'fraud',
      OTEL_RESOURCE_ATTRIBUTES: 'k8s.namespace.name=team-a, modelship.revision=abc',
    })).to.deep.equal({ protocol: 'grpc', sampler: 'parentbased_traceidratio', ratio: 0.25, serviceName: 'fraud' });
  });

  const invalid: Array<[Record<string, string>, RegExp]> = [
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }, /OTEL_EXPORTER_OTLP_ENDPOINT=collector:4318 is invalid: expected an http/],
    [{ ...ENDPOINT, OTEL_EXPORTER_OTLP_PROTOCOL: 'thrift' }, /OTEL_EXPORTER_OTLP_PROTOCOL=thrift is invalid: expected one of http\/protobuf, http\/json, grpc/],
    [{ ...ENDPOINT, OTEL_TRACES_SAMPLER: 'sometimes' }, /OTEL_TRACES_SAMPLER=sometimes is invalid/],
    [{ ...ENDPOINT, OTEL_TRACES_SAMPLER_ARG: '1.5' }, /OTEL_TRACES_SAMPLER_ARG=1.5 is invalid: expected a number between 0 and 1/],
    [{ ...ENDPOINT, OTEL_TRACES_SAMPLER_ARG: 'half' }, /OTEL_TRACES_SAMPLER_ARG=half is invalid/],
    [{ ...ENDPOINT, OTEL_TRACES_EXPORTER: 'zipkin' }, /OTEL_TRACES_EXPORTER=zipkin is invalid: expected one of otlp, none/],
    [{ ...ENDPOINT, OTEL_SDK_DISABLED: 'yes' }, /OTEL_SDK_DISABLED=yes is invalid/],
    [{ ...ENDPOINT, OTEL_RESOURCE_ATTRIBUTES: 'team-a' }, /OTEL_RESOURCE_ATTRIBUTES entry "team-a" is invalid/],
  ];
  for (const [env, message] of invalid) {
    it(`refuses ${JSON.stringify(env)} at start with a message`, () => {
      expect(() => loadTracingSettings(env)).to.throw(ConfigError, message);
    });
  }
});

describe('unit: the sampler built from OTEL_TRACES_SAMPLER, link-aware for batch spans', () => {
  const ratioZero = samplerFor({ protocol: 'http/protobuf', sampler: 'parentbased_traceidratio', ratio: 0 });
  const decide = (parentFlags: number | undefined, links: Link[] = []) => {
    const context = parentFlags === undefined ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, { traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: parentFlags, isRemote: true });
    return ratioZero.shouldSample(context, TRACE_ID, 'span', SpanKind.SERVER, {}, links).decision;
  };
  const link = (traceFlags: number): Link => ({ context: { traceId: TRACE_ID, spanId: SPAN_ID, traceFlags } });

  it('a request with a sampled traceparent is traced; one without follows the ratio; an unsampled traceparent is not', () => {
    expect(decide(TraceFlags.SAMPLED)).to.equal(SamplingDecision.RECORD_AND_SAMPLED);
    expect(decide(undefined)).to.equal(SamplingDecision.NOT_RECORD);
    expect(decide(TraceFlags.NONE)).to.equal(SamplingDecision.NOT_RECORD);
    const ratioOne = samplerFor({ protocol: 'http/protobuf', sampler: 'traceidratio', ratio: 1 });
    expect(ratioOne.shouldSample(ROOT_CONTEXT, TRACE_ID, 'span', SpanKind.SERVER, {}, []).decision).to.equal(SamplingDecision.RECORD_AND_SAMPLED);
  });

  it('a batch span is recorded when it links to a recorded request span, whatever the ratio, and only then', () => {
    expect(decide(undefined, [link(TraceFlags.NONE), link(TraceFlags.SAMPLED)])).to.equal(SamplingDecision.RECORD_AND_SAMPLED);
    expect(decide(undefined, [link(TraceFlags.NONE)])).to.equal(SamplingDecision.NOT_RECORD);
    const alwaysOn = samplerFor({ protocol: 'http/protobuf', sampler: 'always_on', ratio: 1 });
    expect(alwaysOn.shouldSample(ROOT_CONTEXT, TRACE_ID, 'batch', SpanKind.INTERNAL, {}, [link(TraceFlags.NONE)]).decision).to.equal(SamplingDecision.NOT_RECORD);
  });
});
