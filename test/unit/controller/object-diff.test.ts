import { expect } from 'chai';
import { satisfies } from '../../../operator/controller/object-diff.ts';
import { IstioKinds } from '../../../operator/desired/routing/istio.ts';

describe('satisfies (does the live object already have what we would apply?)', () => {
  const desired = {
    metadata: { labels: { app: 'fraud' }, ownerReferences: [{ uid: 'u1', controller: true }] },
    spec: { template: { spec: { containers: [{ name: 'runtime', resources: { requests: { cpu: '0.5', memory: '512Mi' } } }] } } },
  };

  it('ignores fields the server added (defaults, status, other managers)', () => {
    const observed = structuredClone(desired) as Record<string, unknown> & typeof desired;
    Object.assign(observed.metadata, { resourceVersion: '7', labels: { app: 'fraud', extra: 'x' } });
    Object.assign(observed, { status: { readyReplicas: 2 }, spec: { ...observed.spec, replicas: 5 } });
    expect(satisfies(observed, desired)).to.equal(true);
  });

  it('treats canonicalised quantities as equal ("0.5" is "500m")', () => {
    const observed = structuredClone(desired);
    observed.spec.template.spec.containers[0]!.resources.requests.cpu = '500m';
    expect(satisfies(observed, desired)).to.equal(true);
  });

  it('sees a hand edit of a field we manage', () => {
    const observed = structuredClone(desired);
    observed.spec.template.spec.containers[0]!.resources.requests.memory = '1Gi';
    expect(satisfies(observed, desired)).to.equal(false);
  });

  it('sees a removed or added list element', () => {
    const observed = structuredClone(desired);
    observed.spec.template.spec.containers.push({ name: 'sidecar', resources: { requests: { cpu: '1', memory: '1' } } });
    expect(satisfies(observed, desired)).to.equal(false);
    expect(satisfies({ metadata: { labels: { app: 'fraud' } } }, desired)).to.equal(false);
  });

  it('sees a label dropped from a selector or a DestinationRule subset, where it would select fewer pods', () => {
    const pods = { 'modelship.io/model-deployment': 'fraud' };
    const pinned = { ...pods, 'modelship.io/revision': 'aaaaaaa' };
    expect(satisfies({ spec: { selector: pinned } }, { spec: { selector: pods } })).to.equal(false);
    const subsets = IstioKinds.destinationRule.exactLabelMaps;
    expect(satisfies({ spec: { subsets: [{ name: 'stable', labels: pinned }] } }, { spec: { subsets: [{ name: 'stable', labels: pods }] } }, subsets)).to.equal(false);
    expect(satisfies({ spec: { subsets: [{ name: 'stable', labels: pods }] } }, { spec: { subsets: [{ name: 'stable', labels: pods }] } }, subsets)).to.equal(true);
    // Only the kinds that declare such a map get the exact comparison.
    expect(satisfies({ spec: { subsets: [{ name: 'stable', labels: pinned }] } }, { spec: { subsets: [{ name: 'stable', labels: pods }] } })).to.equal(true);
    // A label another manager added to metadata selects nothing: not ours to remove.
    expect(satisfies({ metadata: { labels: pinned } }, { metadata: { labels: pods } })).to.equal(true);
  });

  it('accepts an absent field where we want an empty one', () => {
    expect(satisfies({ spec: {} }, { spec: { tolerations: [], nodeSelector: {} } })).to.equal(true);
  });
});
