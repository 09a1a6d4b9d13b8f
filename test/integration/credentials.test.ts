import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { dump, load } from 'js-yaml';
import { eventually } from '../support/eventually.ts';
import { startOperator, type OperatorProcess } from '../support/operator-process.ts';
import { plane } from './context.ts';

const run = promisify(execFile);

interface KubeconfigFile { users: { name: string; user: Record<string, unknown> }[] }

/**
 * Bound service-account tokens expire and are rotated on disk (a projected volume); the operator must
 * pick up the new one instead of failing every call with 401 once the old one is no longer valid.
 */
describe('operator credentials that rotate (bound service-account token file, real apiserver authentication)', function () {
  this.timeout(300_000);
  const suffix = Date.now().toString(36);
  const namespace = `rotate-${suffix}`;
  const kubectl = (args: string[], input?: string) => plane().running.kubectl(args, input);
  let operator: OperatorProcess | undefined;
  let tokenFile: string;

  /** A token for the operator's account that stays valid only while the Secret it is bound to exists. */
  const boundToken = async (secret: string) => {
    await kubectl(['create', 'secret', 'generic', secret, '-n', namespace]);
    return (await kubectl(['create', 'token', 'operator', '-n', namespace, '--duration=1h', '--bound-object-kind=Secret', `--bound-object-name=${secret}`])).trim();
  };
  /** Who the apiserver takes a token for, through a kubeconfig that holds only that token. */
  const whoAmI = async (token: string) => {
    const kubeconfig = load(await readFile(plane().kubeconfigPath, 'utf8')) as KubeconfigFile;
    for (const user of kubeconfig.users) user.user = { token };
    const path = join(dirname(plane().kubeconfigPath), `whoami-${suffix}.kubeconfig`);
    await writeFile(path, dump(kubeconfig), { mode: 0o600 });
    return run(join(plane().binDir, 'kubectl'), [`--kubeconfig=${path}`, 'auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}'])
      .then(({ stdout }) => stdout, (error: Error) => error.message);
  };

  before(async () => {
    await kubectl(['apply', '--server-side', '-f', 'crds/']);
    await kubectl(['wait', '--for=condition=Established', 'crd/modeldeployments.modelship.io', '--timeout=60s']);
    await kubectl(['create', 'namespace', namespace]);
    await kubectl(['create', 'serviceaccount', 'operator', '-n', namespace]);
    // Authentication is what this suite is about; authorization is the RBAC suite's.
    await kubectl(['create', 'clusterrolebinding', `rotate-${suffix}`, '--clusterrole=cluster-admin', `--serviceaccount=${namespace}:operator`]);
    const kubeconfig = load(await readFile(plane().kubeconfigPath, 'utf8')) as KubeconfigFile;
    tokenFile = join(dirname(plane().kubeconfigPath), `token-${suffix}`);
    await writeFile(tokenFile, await boundToken('first'), { mode: 0o600 });
    for (const user of kubeconfig.users) user.user = { tokenFile };
    const path = join(dirname(plane().kubeconfigPath), `rotating-${suffix}.kubeconfig`);
    await writeFile(path, dump(kubeconfig), { mode: 0o600 });
    operator = await startOperator(path, `rotate-${suffix}`, { MODELSHIP_WATCH_NAMESPACE: namespace, MODELSHIP_LEADER_ELECTION: 'false' });
  });

  after(async () => {
    await operator?.stop();
    await kubectl(['delete', 'clusterrolebinding', `rotate-${suffix}`, '--ignore-not-found']).catch(() => undefined);
    await kubectl(['delete', 'namespace', namespace, '--wait=false']).catch(() => undefined);
  });

  const apply = (name: string) => kubectl(['apply', '--server-side', '--field-manager=test-user', '-f', '-'], JSON.stringify({
    apiVersion: 'modelship.io/v1alpha1', kind: 'ModelDeployment', metadata: { name, namespace },
    spec: { model: { uri: `https://models.example.com/${name}/model.onnx`, sha256: 'd'.repeat(64), version: '1' } },
  }));
  const ready = (name: string) => eventually(async () => {
    expect(await kubectl(['get', 'md', name, '-n', namespace, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}'])).to.equal('True');
  }, { timeoutMs: 90_000 });

  it('keeps reconciling after its token file is rotated and the old token stops being valid', async () => {
    await apply('before');
    await ready('before');
    const old = (await readFile(tokenFile, 'utf8')).trim();

    await writeFile(tokenFile, await boundToken('second'));
    await kubectl(['delete', 'secret', 'first', '-n', namespace]);
    // The apiserver caches authentication results for a few seconds: wait until the old token is refused.
    await eventually(async () => expect(await whoAmI(old)).to.match(/Unauthorized|must be logged in|invalid/i), { timeoutMs: 60_000 });

    await apply('after');
    await ready('after');
    expect(await kubectl(['get', 'deployment', 'after', '-n', namespace, '-o', 'name'])).to.contain('after');
  });
});
