import type { V1ControllerRevision, V1Deployment } from '@kubernetes/client-node';
import { expect } from 'chai';
import type { ModelDeployment, ResolvedModel } from '../../../operator/api/types.ts';
import { computeStatus } from '../../../operator/status/index.ts';
import { MODEL_VERSION_LABEL, planModelDeployment, revisionOf, servedModelFile } from '../../../operator/desired/index.ts';
import { parseRegistryUri } from '../../../operator/registry/reference.ts';
import { RuntimeEnv } from '../../../runtime/contract.ts';
import { modelDeployment, OPTIONS, servedBy } from './fixtures.ts';

const NOW = new Date('2026-11-25T10:00:00Z');
const REFERENCE = 'models:/fraud@champion';
const resolved = (version: string, digit: string): ResolvedModel => ({
  reference: REFERENCE,
  version,
  uri: `http://mlflow.mlops:5000/api/2.0/mlflow-artifacts/artifacts/0/models/m-${version}/artifacts/model.onnx`,
  sha256: digit.repeat(64),
});

function registryMd(model?: ResolvedModel, mlflow: Record<string, unknown> = {}): ModelDeployment {
  const md = modelDeployment({ model: { uri: REFERENCE, mlflow: { trackingUri: 'http://mlflow.mlops:5000', ...mlflow } }, replicas: 2 });
  return model ? { ...md, status: { model } } : md;
}

const envOf = (deployment: V1Deployment | undefined) =>
  Object.fromEntries((deployment?.spec?.template.spec?.containers[0]?.env ?? []).map((entry) => [entry.name, entry.value ?? entry.valueFrom]));

describe('unit: models:/ registry URIs', () => {
  it('parses models:/<name>/<version> and models:/<name>@<alias>, and nothing else', () => {
    expect(parseRegistryUri('models:/fraud/12')).to.deep.equal({ name: 'fraud', version: '12' });
    expect(parseRegistryUri('models:/fraud detector@champion')).to.deep.equal({ name: 'fraud detector', alias: 'champion' });
    for (const uri of ['models:/fraud', 'models:/fraud/latest', 'models:/fraud@', 'models:/a/b/1', 'https://x/model.onnx', 'models://fraud/1']) {
      expect(parseRegistryUri(uri), uri).to.equal(undefined);
    }
  });

  it('serves the resolved file: the runtime gets its URL, digest and registry version; the pods are labelled with it', () => {
    const md = registryMd(resolved('1', 'a'));
    const plan = planModelDeployment({ md, options: OPTIONS, controllerRevisions: [], deployments: [], served: servedBy(), now: NOW });
    const deployment = plan.objects.find((object) => object.kind === 'Deployment') as V1Deployment;
    expect(envOf(deployment)).to.include({
      [RuntimeEnv.modelUri]: resolved('1', 'a').uri,
      [RuntimeEnv.modelSha256]: 'a'.repeat(64),
      [RuntimeEnv.modelVersion]: '1',
    });
    expect(deployment.spec?.template.metadata?.labels?.[MODEL_VERSION_LABEL]).to.equal('1');
    const revision = plan.objects.find((object) => object.kind === 'ControllerRevision') as V1ControllerRevision;
    expect((revision.data as { resolvedModel?: ResolvedModel }).resolvedModel).to.deep.equal(resolved('1', 'a'));
    expect(revision.metadata?.labels?.[MODEL_VERSION_LABEL]).to.equal('1');
  });

  it('a moved alias is a new revision; the poll interval is not part of the revision', () => {
    expect(revisionOf(registryMd(resolved('2', 'b')))).to.not.equal(revisionOf(registryMd(resolved('1', 'a'))));
    expect(revisionOf(registryMd(resolved('1', 'a'), { pollIntervalSeconds: 30 }))).to.equal(revisionOf(registryMd(resolved('1', 'a'))));
  });

  it('a recorded resolution of another reference is not served', () => {
    const md = registryMd({ ...resolved('1', 'a'), reference: 'models:/fraud@challenger' });
    expect(() => servedModelFile(md)).to.throw('models:/fraud@champion has not been resolved');
  });

  it('sends the registry token Secret to the runtime for its download', () => {
    const md = registryMd(resolved('1', 'a'), { tokenSecret: { name: 'mlflow-token' } });
    const plan = planModelDeployment({ md, options: OPTIONS, controllerRevisions: [], deployments: [], served: servedBy(), now: NOW });
    const deployment = plan.objects.find((object) => object.kind === 'Deployment') as V1Deployment;
    expect(envOf(deployment)[RuntimeEnv.modelDownloadToken]).to.deep.equal({ secretKeyRef: { name: 'mlflow-token', key: 'token' } });
  });

  it('status carries the resolution and the ModelResolved condition', () => {
    const md = registryMd(resolved('1', 'a'));
    const status = computeStatus(md, { modelResolved: { status: 'False', reason: 'RegistryUnavailable', message: 'MLflow did not answer; still serving version 1' } }, NOW);
    expect(status.model).to.deep.equal(resolved('1', 'a'));
    expect(status.modelVersion, 'the Version column of kubectl get md').to.equal('1');
    expect(status.conditions?.find((condition) => condition.type === 'ModelResolved')).to.include({ status: 'False', reason: 'RegistryUnavailable' });
    const plain = computeStatus(modelDeployment(), {}, NOW);
    expect(plain.model).to.equal(undefined);
    expect(plain.modelVersion).to.equal(modelDeployment().spec.model.version);
    expect(plain.conditions?.map((condition) => condition.type)).to.not.include('ModelResolved');
  });
});
