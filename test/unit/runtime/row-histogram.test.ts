import { expect } from 'chai';
import { Histogram, Registry } from 'prom-client';
import { RowHistogram } from '../../../runtime/row-histogram.ts';

describe('unit: RowHistogram (prediction metrics filled per row)', () => {
  // No bucket at -1: prom-client files values above the last bound under the key -1, which would collide.
  const buckets = [-2, 0, 0.5, 1, 10];
  const values = [-5, -1, 0, 0.25, 0.5, 0.75, 1, 3, 10, 11, 1e9, Number.NaN];

  async function exposition(kind: 'native' | 'rows'): Promise<string> {
    const registry = new Registry();
    registry.setDefaultLabels({ model: 'm', version: '1', revision: 'r' });
    const configuration = { name: 'prediction_value', help: 'values', buckets, registers: [registry] };
    if (kind === 'native') {
      const histogram = new Histogram(configuration);
      for (const value of values) if (!Number.isNaN(value)) histogram.observe(value);
    } else {
      const histogram = new RowHistogram(configuration);
      for (const value of values) histogram.add(value);
    }
    return registry.metrics();
  }

  it('renders exactly the series prom-client renders for the same observations (NaN rows skipped)', async () => {
    const rows = await exposition('rows');
    expect(rows).to.equal(await exposition('native'));
    expect(rows).to.contain('prediction_value_bucket{le="0.5",model="m",version="1",revision="r"} 5');
    expect(rows).to.contain('prediction_value_count{model="m",version="1",revision="r"} 11');
  });

  it('starts again from zero on reset', async () => {
    const registry = new Registry();
    const histogram = new RowHistogram({ name: 'prediction_score', help: 'scores', buckets: [0.5, 1], registers: [registry] });
    histogram.add(0.9);
    registry.resetMetrics();
    histogram.add(0.2);
    const text = await registry.metrics();
    expect(text).to.contain('prediction_score_bucket{le="0.5"} 1');
    expect(text).to.contain('prediction_score_count 1');
  });
});
