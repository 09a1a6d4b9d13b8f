import { expect } from 'chai';
import type { ModelDeployment } from '../../../operator/api/types.ts';
import { OperatorMetrics, revisionWeights } from '../../../operator/metrics.ts';
import { modelDeployment } from './fixtures.ts';

const withStatus = (status: ModelDeployment['status'], name = 'fraud-detector'): ModelDeployment => ({ ...modelDeployment({}, name), status });
const weightLines = async (metrics: OperatorMetrics) => (await metrics.registry.metrics()).split('\n').filter((line) => line.startsWith('modelship_rollout_weight{'));

describe('operator metrics: modelship_rollout_weight', () => {
  it("serves each live revision's traffic share from the ModelDeployments' status, and drops a revision once it has left", async () => {
    const metrics = new OperatorMetrics();
    let cache = [
      withStatus({ stableRevision: 'aaaaaaa', candidateRevision: 'bbbbbbb', weights: { stable: 80, candidate: 20 } }),
      withStatus({ stableRevision: 'ccccccc', weights: { stable: 100, candidate: 0 } }, 'churn'),
      withStatus(undefined, 'not-yet-reconciled'),
    ];
    metrics.readRolloutWeightsFrom(() => cache.flatMap(revisionWeights));
    expect(await weightLines(metrics)).to.have.members([
      'modelship_rollout_weight{namespace="payments",name="fraud-detector",revision="aaaaaaa"} 80',
      'modelship_rollout_weight{namespace="payments",name="fraud-detector",revision="bbbbbbb"} 20',
      'modelship_rollout_weight{namespace="payments",name="churn",revision="ccccccc"} 100',
    ]);
    cache = [withStatus({ stableRevision: 'bbbbbbb', weights: { stable: 100, candidate: 0 } })];
    expect(await weightLines(metrics)).to.deep.equal(['modelship_rollout_weight{namespace="payments",name="fraud-detector",revision="bbbbbbb"} 100']);
  });

  it('serves no weights on a standby replica (no cache to read from)', async () => {
    expect(await weightLines(new OperatorMetrics())).to.deep.equal([]);
  });
});
