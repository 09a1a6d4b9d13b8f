import type { V1Pod } from '@kubernetes/client-node';
import { expect } from 'chai';
import { generateKeyPairSync } from 'node:crypto';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { plane } from './context.ts';
import { RuntimeEnv } from '../../runtime/contract.ts';
import { eventually } from '../support/eventually.ts';
import { startOperator, type OperatorProcess } from '../support/operator-process.ts';
import { closedPort, modelPath } from '../runtime/helpers.ts';
import { spawnRuntime } from '../runtime/process.ts';

interface Condition { type: string; status: string; reason: string; message: string }
interface MdStatus { status?: { phase?: string; conditions?: Condition[] } }

/**
 * What this proves, and what it cannot: KWOK pods run no containers, so no kubelet copies a
 * termination message into a pod's status here. The test plays that one kubelet step: it runs the
 * real runtime (refusing a model whose signature is missing), takes the termination message the
 * runtime wrote, and writes it into the pod's containerStatuses through the real apiserver's status
 * subresource, as a kubelet would. Everything after that (the operator's pod watch, its status
 * computation, the condition and the Event) is the real operator against the real apiserver.
 */
describe('operator: a runtime refusing its model signature makes the ModelDeployment Degraded (ModelSignatureInvalid)', function () {
  this.timeout(240_000);
  const namespace = `md-signature-${Date.now().toString(36)}`;
  const kubectl = (args: string[], input?: string) => plane().running.kubectl(args, input);
  let operator: OperatorProcess;
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'modelship-md-signature-'));
    await kubectl(['apply', '--server-side', '-f', 'crds/']);
    await kubectl(['wait', '--for=condition=Established', 'crd/modeldeployments.modelship.io', '--timeout=60s']);
    await kubectl(['create', 'namespace', namespace]);
    operator = await startOperator(plane().kubeconfigPath, 'operator-signature', { MODELSHIP_WATCH_NAMESPACE: namespace, MODELSHIP_LEADER_ELECTION: 'false' });
  });

  after(async () => {
    await operator?.stop();
    await kubectl(['delete', 'namespace', namespace, '--wait=false']).catch(() => undefined);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('mounts the key Secret into the runtime pod and reports the reason the runtime gives in its termination message', async () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256', publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
    await kubectl(['create', 'secret', 'generic', 'model-signer', '-n', namespace, `--from-literal=public-key.pem=${publicKey}`]);
    await kubectl(['apply', '--server-side', '-f', '-'], JSON.stringify({
      apiVersion: 'modelship.io/v1alpha1',
      kind: 'ModelDeployment',
      metadata: { name: 'signed', namespace },
      spec: {
        model: { uri: 'https://models.example.com/fraud.onnx', sha256: 'a'.repeat(64), signature: { secret: { name: 'model-signer', key: 'public-key.pem' } } },
        replicas: 1,
        // No node matches, so the pod stays unscheduled and only this test writes its status.
        runtime: { nodeSelector: { 'modelship.test/no-such-node': 'true' } },
      },
    }));

    const pod = await eventually(async () => {
      const pods = JSON.parse(await kubectl(['get', 'pods', '-n', namespace, '-l', 'modelship.io/model-deployment=signed', '-o', 'json'])) as { items: V1Pod[] };
      expect(pods.items).to.have.length(1);
      return pods.items[0]!;
    }, { timeoutMs: 60_000 });
    const container = pod.spec?.containers[0];
    expect(container?.volumeMounts).to.deep.include({ name: 'model-signature-trust', mountPath: '/etc/modelship/model-signature', readOnly: true });
    expect(pod.spec?.volumes).to.deep.include({ name: 'model-signature-trust', secret: { secretName: 'model-signer', items: [{ key: 'public-key.pem', path: 'trust.pem' }], defaultMode: 420 } });
    const env = Object.fromEntries((container?.env ?? []).map((e) => [e.name, e.value]));
    expect(env).to.include({ [RuntimeEnv.modelSignatureMethod]: 'key', [RuntimeEnv.modelSignatureUri]: 'https://models.example.com/fraud.onnx.sig' });

    // The real runtime with the pod's signature settings, its files local: the signature is missing.
    const trustFile = join(dir, 'trust.pem');
    await writeFile(trustFile, publicKey);
    // A copy with no .sig beside it (examples/models holds a signature of fraud-fp32.onnx).
    const unsigned = join(dir, 'fraud-unsigned.onnx');
    await copyFile(modelPath('fraud-fp32.onnx'), unsigned);
    const terminationLog = join(dir, 'termination-log');
    const runtime = spawnRuntime({
      modelUri: unsigned,
      modelSignatureMethod: env[RuntimeEnv.modelSignatureMethod],
      modelSignatureTrustFile: trustFile,
      port: String(await closedPort()),
      terminationMessagePath: terminationLog,
    });
    expect(await runtime.exited()).to.equal(1);
    const message = await readFile(terminationLog, 'utf8');
    expect(message).to.match(/^ModelSignatureInvalid: cannot serve model: model signature rejected \(missing\): /);

    // The kubelet's step: the container exited 1 with that message and is waiting to restart.
    const containerStatuses = [{
      name: 'runtime', ready: false, restartCount: 1, image: container?.image ?? '', imageID: '',
      state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off restarting failed container' } },
      lastState: { terminated: { exitCode: 1, reason: 'Error', message, startedAt: new Date().toISOString(), finishedAt: new Date().toISOString() } },
    }];
    await kubectl(['patch', 'pod', pod.metadata!.name!, '-n', namespace, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { containerStatuses } })]);

    const md = await eventually(async () => {
      const current = JSON.parse(await kubectl(['get', 'md', 'signed', '-n', namespace, '-o', 'json'])) as MdStatus;
      const degraded = current.status?.conditions?.find((c) => c.type === 'Degraded');
      expect(degraded, JSON.stringify(current.status)).to.include({ status: 'True', reason: 'ModelSignatureInvalid' });
      return current;
    }, { timeoutMs: 60_000 });
    expect(md.status?.phase).to.equal('Degraded');
    const degraded = md.status?.conditions?.find((c) => c.type === 'Degraded');
    expect(degraded?.message).to.equal(`pod ${pod.metadata!.name!}: ${message.slice('ModelSignatureInvalid: '.length)}`);
    await eventually(async () => {
      const events = await kubectl(['get', 'events.events.k8s.io', '-n', namespace, '--field-selector', 'reason=ModelSignatureInvalid', '-o', 'jsonpath={.items[*].note}']);
      expect(events).to.contain('model signature rejected (missing)');
    });
  });
});
