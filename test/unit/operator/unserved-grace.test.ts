import { expect } from 'chai';
import { UnservedGrace } from '../../../operator/controller/unserved-grace.ts';

describe('an optional kind left out of API discovery', () => {
  let now = 0;
  const grace = () => new UnservedGrace<string>(30_000, () => now);
  beforeEach(() => { now = 0; });

  it('is not taken as removed while it is left out for less than the grace (an apiserver restart)', () => {
    const kinds = grace();
    expect(kinds.removed('PrometheusRule', false)).to.equal(false);
    now = 29_000;
    expect(kinds.removed('PrometheusRule', false)).to.equal(false);
  });

  it('is taken as removed once every discovery for the grace left it out', () => {
    const kinds = grace();
    kinds.removed('PrometheusRule', false);
    now = 30_000;
    expect(kinds.removed('PrometheusRule', false)).to.equal(true);
  });

  it('starts over when a discovery lists it again', () => {
    const kinds = grace();
    kinds.removed('PrometheusRule', false);
    now = 20_000;
    kinds.removed('PrometheusRule', true);
    now = 40_000;
    expect(kinds.removed('PrometheusRule', false)).to.equal(false);
    now = 69_000;
    expect(kinds.removed('PrometheusRule', false)).to.equal(false);
    now = 70_000;
    expect(kinds.removed('PrometheusRule', false)).to.equal(true);
  });

  it('needs two discoveries: a single one after a long quiet is not enough', () => {
    const kinds = grace();
    now = 1_000_000;
    expect(kinds.removed('VirtualService', false)).to.equal(false);
    expect(kinds.removed('PrometheusRule', false)).to.equal(false);
  });
});
