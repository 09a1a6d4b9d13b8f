import { expect } from 'chai';
import type { V1ControllerRevision } from '@kubernetes/client-node';
import { undoTarget } from '../../../cli/actions.ts';
import { CliError } from '../../../cli/errors.ts';
import { renderHistory, renderStatus, renderStructured } from '../../../cli/render.ts';
import { historyOf, revisionsOf, statusOf } from '../../../cli/rollout-view.ts';
import { renderTable } from '../../../cli/table.ts';
import { load } from 'js-yaml';
import type { ModelDeployment } from '../../../operator/api/types.ts';
import { desiredControllerRevision, recordedRevisions } from '../../../operator/desired/history.ts';
import { revisionOf, revisionSpecOf } from '../../../operator/desired/revision.ts';
import { modelDeployment } from '../operator/fixtures.ts';

const canary = { strategy: 'Canary' as const, canary: { steps: [{ weight: 10, pause: '1m' }, { weight: 50 }, { weight: 80 }] } };
const atVersion = (version: string, sha: string): ModelDeployment => modelDeployment({ model: { uri: `https://models.example.com/fraud/v${version}.onnx`, sha256: sha.repeat(64), version }, rollout: canary });

/** ControllerRevisions for versions 1, 2, 3 (numbered 1, 2, 3) as the operator records them. */
function history(): { md: ModelDeployment; objects: V1ControllerRevision[]; hashes: string[] } {
  const versions = [atVersion('1', 'a'), atVersion('2', 'b'), atVersion('3', 'c')];
  const hashes = versions.map(revisionOf);
  const objects = versions.map((md, index) => desiredControllerRevision(md, { hash: hashes[index]!, number: index + 1, spec: revisionSpecOf(md) }));
  const md = versions[2]!;
  md.metadata.generation = 4;
  md.metadata.annotations = { 'modelship.io/paused': 'true' };
  md.status = {
    observedGeneration: 4,
    phase: 'Ready',
    ready: '4/4',
    stableRevision: hashes[1],
    candidateRevision: hashes[2],
    weights: { stable: 50, candidate: 50 },
    rollout: { phase: 'Paused', step: 1, stepStartedAt: '2026-11-25T10:00:00Z', message: 'paused by modelship.io/paused' },
    retiring: [{ revision: hashes[0]!, scaleDownAt: '2026-11-25T10:00:30Z' }],
    conditions: [
      { type: 'Ready', status: 'True', reason: 'MinimumReplicasAvailable', message: 'all 4 replicas ready', lastTransitionTime: '2026-11-25T09:00:00Z' },
      { type: 'TrafficRouting', status: 'False', reason: 'IstioNotInstalled', message: 'canary approximated by replica counts', lastTransitionTime: '2026-11-25T09:00:00Z' },
    ],
  };
  return { md, objects, hashes };
}

describe('kubectl-modelship output', () => {
  it('aligns table columns as kubectl does: widest cell plus three spaces, upper-case headers, no trailing spaces', () => {
    expect(renderTable(['Name', 'Ready'], [['fraud-detector', '2/2'], ['a', '']])).to.equal('NAME             READY\nfraud-detector   2/2\na');
    expect(renderTable(undefined, [['Name:', 'x'], ['Namespace:', 'y']], { indent: 2 })).to.equal('  Name:        x\n  Namespace:   y');
  });

  it('status shows phase, step x/n, weights, stable and candidate with their revision numbers and model versions, and the conditions', () => {
    const { md, objects, hashes } = history();
    const [one, two, three] = hashes;
    expect(renderStatus(statusOf(md, revisionsOf(md, objects)))).to.equal([
      'Name:        fraud-detector',
      'Namespace:   payments',
      'Strategy:    Canary',
      'Phase:       Ready (4/4 ready)',
      'Rollout:     Paused, step 2/3 since 2026-11-25T10:00:00Z',
      'Message:     paused by modelship.io/paused',
      'Weights:     stable 50%, candidate 50%',
      `Stable:      ${two} (revision 2, model version 2)`,
      `Candidate:   ${three} (revision 3, model version 3)`,
      `Retiring:    ${one} (revision 1, model version 1), scales down at 2026-11-25T10:00:30Z`,
      'Commands:    paused',
      '',
      'Conditions:',
      '  TYPE             STATUS   REASON                     MESSAGE',
      '  Ready            True     MinimumReplicasAvailable   all 4 replicas ready',
      '  TrafficRouting   False    IstioNotInstalled          canary approximated by replica counts',
      '',
    ].join('\n'));
  });

  it('status says when the operator has not yet acted on the latest spec, and shows <none> for what is not there yet', () => {
    const md = modelDeployment();
    md.metadata.generation = 2;
    const text = renderStatus(statusOf(md, []));
    expect(text).to.contain('Rollout:     <none>\n').and.contain('Stable:      <none>\n').and.contain('Candidate:   <none>\n');
    expect(text).to.contain('Observed:    the operator has not acted on the latest spec yet\n');
    expect(text).to.contain('Conditions: <none>\n');
  });

  it('status names the aborted revision and why it was aborted', () => {
    const { md, objects, hashes } = history();
    md.status = { ...md.status, candidateRevision: undefined, rollout: { phase: 'Aborted', abortedRevision: hashes[2], abortReason: 'AnalysisFailed', message: 'analysis failed' } };
    expect(renderStatus(statusOf(md, revisionsOf(md, objects)))).to.contain(`\nAborted:     ${hashes[2]} (revision 3, model version 3), AnalysisFailed\n`);
  });

  it('status shows the last analysis sample as a table: every check with its value, threshold and verdict', () => {
    const { md, objects } = history();
    md.status = {
      ...md.status,
      analysis: {
        failures: 1,
        lastSampleAt: '2026-11-25T10:04:00Z',
        verdict: 'Fail',
        checks: [
          { name: 'requests', verdict: 'Pass', value: 512, threshold: '>= 100' },
          { name: 'error-rate', verdict: 'Fail', value: 0.31, threshold: '<= 0.05' },
        ],
      },
    };
    const text = renderStatus(statusOf(md, revisionsOf(md, objects)));
    expect(text).to.contain([
      'Analysis: Fail at 2026-11-25T10:04:00Z, 1 failed sample(s)',
      '  CHECK        VALUE   THRESHOLD   VERDICT   MESSAGE',
      '  requests     512     >= 100      Pass',
      '  error-rate   0.31    <= 0.05     Fail',
    ].join('\n'));
    expect(text.indexOf('Analysis:')).to.be.lessThan(text.indexOf('Conditions:'));
  });

  it('history lists revisions oldest first with version, shortened digest and role', () => {
    const { md, objects, hashes } = history();
    expect(renderHistory(historyOf(md, revisionsOf(md, objects)))).to.equal([
      'REVISION   HASH      VERSION   SHA256         ROLE',
      `1          ${hashes[0]}   1         aaaaaaaaaaaa   retiring`,
      `2          ${hashes[1]}   2         bbbbbbbbbbbb   stable`,
      `3          ${hashes[2]}   3         cccccccccccc   candidate`,
      '',
    ].join('\n'));
  });

  it("history shows the digest of the file a revision serves: the INT8 variant's", () => {
    const md = modelDeployment({ model: { uri: 'https://m/fraud.onnx', sha256: 'a'.repeat(64), version: '1', variant: 'int8', int8: { uri: 'https://m/fraud.int8.onnx', sha256: 'e'.repeat(64) } }, rollout: canary });
    const hash = revisionOf(md);
    const objects = [desiredControllerRevision(md, { hash, number: 1, spec: revisionSpecOf(md) })];
    expect(historyOf(md, revisionsOf(md, objects))[0]?.model.sha256).to.equal('e'.repeat(64));
  });

  it('ignores ControllerRevisions of another ModelDeployment that had the same name', () => {
    const { md, objects } = history();
    const foreign = objects.map((object) => ({ ...object, metadata: { ...object.metadata, ownerReferences: [{ ...object.metadata!.ownerReferences![0]!, uid: 'another' }] } }));
    expect(historyOf(md, revisionsOf(md, foreign))).to.deep.equal([]);
  });

  it('-o json and -o yaml carry the same view, digests whole', () => {
    const { md, objects } = history();
    const entries = historyOf(md, revisionsOf(md, objects));
    const json = JSON.parse(renderStructured(entries, 'json')) as unknown;
    expect(json).to.deep.equal(load(renderStructured(entries, 'yaml')));
    expect(json).to.have.nested.property('[0].model.sha256', 'a'.repeat(64));
    const view = JSON.parse(renderStructured(statusOf(md, revisionsOf(md, objects)), 'json')) as { rollout: unknown; stable: unknown };
    expect(view.rollout).to.deep.equal({ phase: 'Paused', step: { number: 2, of: 3 }, stepStartedAt: '2026-11-25T10:00:00Z', message: 'paused by modelship.io/paused' });
    expect(view.stable).to.deep.include({ revision: 2, modelVersion: '2' });
  });

  it('undo goes back to the revision before stable by default, or to the one asked for, and names what exists when it cannot', () => {
    const { md, objects } = history();
    const revisions = recordedRevisions(objects);
    expect(undoTarget(md, revisions, undefined).number).to.equal(1);
    expect(undoTarget(md, revisions, 3).number).to.equal(3);
    expect(() => undoTarget(md, revisions, 7)).to.throw(CliError, 'unable to find revision 7 of modeldeployments.modelship.io "fraud-detector" (recorded: 1, 2, 3)');
    const first = { ...md, status: { ...md.status, stableRevision: revisions[0]!.hash } };
    expect(() => undoTarget(first, revisions, undefined)).to.throw(CliError, 'no revision before its stable revision 1');
  });

  it('undo refuses where a registry alias decides the version (writing the spec back would change nothing) and says how to go back', () => {
    const { md, objects } = history();
    const revisions = recordedRevisions(objects);
    const aliased = { ...md, spec: { ...md.spec, model: { uri: 'models:/fraud@champion', mlflow: { trackingUri: 'http://mlflow:5000' } } } };
    expect(() => undoTarget(aliased, revisions, undefined)).to.throw(CliError,
      'serves models:/fraud@champion: the alias champion decides which version runs, not the spec. Move the alias back in the registry (revision 1 served version 1), or pin that version: spec.model.uri: models:/fraud/1');
    const pinned = { ...aliased, spec: { ...aliased.spec, model: { ...aliased.spec.model, uri: 'models:/fraud/2' } } };
    expect(undoTarget(pinned, revisions, undefined).number, 'a pinned version is the spec\'s to undo').to.equal(1);
  });
});
