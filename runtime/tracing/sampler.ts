import { AlwaysOffSampler, AlwaysOnSampler, ParentBasedSampler, TraceIdRatioBasedSampler, type Sampler } from '@opentelemetry/sdk-trace-base';
import { LinkedSampler } from './linked-sampler.ts';
import type { TracingSettings } from './settings.ts';

function rootSampler({ sampler, ratio }: TracingSettings): Sampler {
  switch (sampler) {
    case 'always_on':
    case 'parentbased_always_on':
      return new AlwaysOnSampler();
    case 'always_off':
    case 'parentbased_always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
    case 'parentbased_traceidratio':
      return new TraceIdRatioBasedSampler(ratio);
  }
}

/** OTEL_TRACES_SAMPLER(+_ARG) as the specification defines it, made link-aware for batch spans. */
export function samplerFor(settings: TracingSettings): Sampler {
  const root = rootSampler(settings);
  return new LinkedSampler(settings.sampler.startsWith('parentbased_') ? new ParentBasedSampler({ root }) : root);
}
