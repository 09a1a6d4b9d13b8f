import { expect } from 'chai';
import { modelDeploymentCrd } from '../../../operator/api/crd.ts';
import { RuntimeContract } from '../../../runtime/contract.ts';
import type { IntegerSetting } from '../../../runtime/env-settings.ts';

interface SchemaNode {
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  minimum?: number;
  maximum?: number;
  default?: unknown;
  enum?: unknown[];
}

/** The CRD schema node at a dotted path under spec, as the apiserver gets it. */
function field(path: string): SchemaNode {
  const root = modelDeploymentCrd().spec.versions[0]?.schema?.openAPIV3Schema as SchemaNode;
  return path.split('.').reduce((node, name) => {
    const next = name === '[]' ? node.items : node.properties?.[name];
    if (!next) throw new Error(`the CRD has no ${path}`);
    return next;
  }, root.properties!.spec!);
}

/** Spec fields the operator passes to the runtime, and whether the apiserver fills in their default. */
const integerFields: Array<[path: string, setting: IntegerSetting, defaulted: boolean]> = [
  ['runtime.batching.maxBatchSize', RuntimeContract.maxBatchSize, true],
  ['runtime.batching.maxQueueDelayMs', RuntimeContract.maxQueueDelayMs, true],
  ['runtime.batching.maxQueueSize', RuntimeContract.maxQueueSize, false],
  ['runtime.maxConcurrentRuns', RuntimeContract.maxConcurrentRuns, false],
  ['runtime.rateLimit.requestsPerSecond', RuntimeContract.rateLimitRps, false],
  ['runtime.rateLimit.burst', RuntimeContract.rateLimitBurst, false],
  ['runtime.rateLimit.totalRequestsPerSecond', RuntimeContract.rateLimitTotalRps, false],
  ['runtime.threads.intraOp', RuntimeContract.intraOpThreads, false],
  ['runtime.threads.interOp', RuntimeContract.interOpThreads, false],
];

describe('ModelDeployment CRD against the runtime contract', () => {
  for (const [path, setting, defaulted] of integerFields) {
    it(`spec.${path} has the range${defaulted ? ' and default' : ''} of ${setting.name}`, () => {
      const node = field(path);
      expect({ minimum: node.minimum, maximum: node.maximum }).to.deep.equal({ minimum: setting.min, maximum: setting.max });
      expect(node.default).to.equal(defaulted ? setting.default : undefined);
    });
  }

  it('bounds preferred batch sizes like the runtime does', () => {
    const item = field('runtime.batching.preferredBatchSizes.[]');
    expect({ minimum: item.minimum, maximum: item.maximum }).to.deep.equal({ minimum: RuntimeContract.preferredBatchSizes.min, maximum: RuntimeContract.maxBatchSize.max });
  });

  it('allows exactly the execution providers and log levels the runtime accepts, with the same default providers', () => {
    expect(field('runtime.executionProviders.[]').enum).to.deep.equal([...RuntimeContract.executionProviders.values]);
    expect(field('runtime.executionProviders').default).to.deep.equal([...RuntimeContract.executionProviders.default]);
    expect(field('runtime.logLevel').enum).to.deep.equal([...RuntimeContract.logLevel.values]);
  });
});
