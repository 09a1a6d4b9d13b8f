import { expect } from 'chai';
import { recordedRevisions } from '../../../operator/desired/history.ts';
import { canonicalJson, REVISION_LABEL, revisionOf } from '../../../operator/desired/index.ts';
import { revisionHash, revisionSpecOf } from '../../../operator/desired/revision.ts';
import { modelDeployment } from './fixtures.ts';

describe('revisionOf', () => {
  const base = modelDeployment({ runtime: { resources: { requests: { cpu: '500m' } } }, replicas: 2 });

  it('is a short hex name that stays the same for the same spec', () => {
    expect(revisionOf(base)).to.match(/^[0-9a-f]{7}$/);
    expect(revisionOf(modelDeployment({ replicas: 2, runtime: { resources: { requests: { cpu: '500m' } } } }))).to.equal(revisionOf(base));
  });

  it('changes with the model or the runtime pods', () => {
    const revisions = [
      revisionOf(base),
      revisionOf(modelDeployment({ ...base.spec, model: { ...base.spec.model, sha256: 'c'.repeat(64) } })),
      revisionOf(modelDeployment({ ...base.spec, model: { ...base.spec.model, version: '3' } })),
      revisionOf(modelDeployment({ ...base.spec, model: { ...base.spec.model, uri: 'https://models.example.com/other.onnx' } })),
      revisionOf(modelDeployment({ ...base.spec, runtime: { resources: { requests: { cpu: '1' } } } })),
      revisionOf(modelDeployment({ ...base.spec, runtime: { ...base.spec.runtime, image: 'runtime:2' } })),
    ];
    expect(new Set(revisions).size).to.equal(revisions.length);
  });

  it('does not change when only scaling, the Service or the rollout strategy change (no needless rollout)', () => {
    expect(revisionOf(modelDeployment({ ...base.spec, replicas: 7 }))).to.equal(revisionOf(base));
    expect(revisionOf(modelDeployment({ ...base.spec, replicas: undefined, autoscaling: { maxReplicas: 9, targetCPUUtilization: 60 } }))).to.equal(revisionOf(base));
    expect(revisionOf(modelDeployment({ ...base.spec, service: { port: 80 } }))).to.equal(revisionOf(base));
    expect(revisionOf(modelDeployment({ ...base.spec, rollout: { strategy: 'Canary', canary: { steps: [{ weight: 10 }] } } }))).to.equal(revisionOf(base));
  });

  it('differs between two ModelDeployments of the same spec (staging and production): analysis selects series by revision', () => {
    const production = { ...base, metadata: { ...base.metadata, namespace: 'production' } };
    const revisions = [revisionOf(base), revisionOf(modelDeployment(base.spec, 'other-name')), revisionOf(production)];
    expect(new Set(revisions).size).to.equal(revisions.length);
    expect(revisionOf({ ...base, metadata: { ...base.metadata, uid: 'recreated-from-git' } }), 'the same namespace/name keeps its revisions when recreated').to.equal(revisionOf(base));
  });

  it('still reads a revision recorded before the ModelDeployment was part of the hash (no rollout on operator upgrade from the record alone)', () => {
    const spec = revisionSpecOf(base);
    delete spec.modelDeployment;
    const [recorded] = recordedRevisions([{ metadata: { labels: { [REVISION_LABEL]: revisionHash(spec) } }, data: spec, revision: 1 }]);
    expect(recorded?.spec).to.deep.equal(spec);
  });

  it('serializes objects with sorted keys at every depth', () => {
    expect(canonicalJson({ b: 1, a: { d: [{ z: 1, y: 2 }], c: null } })).to.equal('{"a":{"c":null,"d":[{"y":2,"z":1}]},"b":1}');
  });
});
