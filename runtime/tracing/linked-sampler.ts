import { TraceFlags, type Attributes, type Context, type Link, type SpanKind } from '@opentelemetry/api';
import { SamplingDecision, type Sampler, type SamplingResult } from '@opentelemetry/sdk-trace-base';

const RECORD: SamplingResult = { decision: SamplingDecision.RECORD_AND_SAMPLED };
const DROP: SamplingResult = { decision: SamplingDecision.NOT_RECORD };

/**
 * A span with links (a batch run, linked to the requests it served) is recorded exactly when one of
 * the spans it links to was: a ratio sampler would otherwise drop most batch spans of traced requests
 * and keep batches that served no traced request. Spans without links go to the configured sampler.
 */
export class LinkedSampler implements Sampler {
  constructor(private readonly inner: Sampler) {}

  shouldSample(context: Context, traceId: string, name: string, kind: SpanKind, attributes: Attributes, links: Link[]): SamplingResult {
    if (links.length === 0) return this.inner.shouldSample(context, traceId, name, kind, attributes, links);
    return links.some((link) => (link.context.traceFlags & TraceFlags.SAMPLED) !== 0) ? RECORD : DROP;
  }

  toString(): string {
    return `LinkedSampler{${this.inner.toString()}}`;
  }
}
