import { expect } from 'chai';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import type { RequestOptions } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dump } from 'js-yaml';
import { loadKubeConnection } from '../../../operator/kube/connection.ts';

const b64 = (text: string) => Buffer.from(text).toString('base64');

function kubeconfig(cluster: Record<string, unknown>, user: Record<string, unknown>): string {
  return dump({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'here',
    clusters: [{ name: 'elsewhere', cluster: { server: 'https://wrong.example:6443' } }, { name: 'c', cluster }],
    users: [{ name: 'u', user }],
    contexts: [{ name: 'other', context: { cluster: 'elsewhere', user: 'u' } }, { name: 'here', context: { cluster: 'c', user: 'u' } }],
  });
}

async function httpsOptions(connection: { applyToHTTPSOptions(options: RequestOptions): Promise<void> }): Promise<RequestOptions> {
  const options: RequestOptions = { headers: {} };
  await connection.applyToHTTPSOptions(options);
  return options;
}

describe('loadKubeConnection', () => {
  let dir: string;
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'modelship-kubeconnection-')); });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('reads the current context of $KUBECONFIG: server, CA and client certificate inline', async () => {
    const path = join(dir, 'config');
    await writeFile(path, kubeconfig(
      { server: 'https://127.0.0.1:6443', 'certificate-authority-data': b64('CA PEM') },
      { 'client-certificate-data': b64('CERT PEM'), 'client-key-data': b64('KEY PEM') },
    ));
    const connection = await loadKubeConnection({ KUBECONFIG: path, HOME: dir });
    expect(connection.getCurrentCluster()?.server).to.equal('https://127.0.0.1:6443');
    const options = await httpsOptions(connection);
    expect(String(options.ca)).to.equal('CA PEM');
    expect(String(options.cert)).to.equal('CERT PEM');
    expect(String(options.key)).to.equal('KEY PEM');
    expect(options.headers).to.not.have.property('authorization');
  });

  it('resolves file paths next to the kubeconfig and reads a token file again when asked', async () => {
    await writeFile(join(dir, 'ca.crt'), 'CA FILE');
    await writeFile(join(dir, 'token'), 'first\n');
    const path = join(dir, 'config');
    await writeFile(path, kubeconfig({ server: 'https://api.example:6443', 'certificate-authority': 'ca.crt', 'insecure-skip-tls-verify': false }, { tokenFile: 'token' }));
    const connection = await loadKubeConnection({ KUBECONFIG: path, HOME: dir });
    const first = await httpsOptions(connection);
    expect(String(first.ca)).to.equal('CA FILE');
    expect(first.headers).to.deep.include({ authorization: 'Bearer first' });
    await writeFile(join(dir, 'token'), 'rotated\n');
    expect((await httpsOptions(connection)).headers).to.deep.include({ authorization: 'Bearer rotated' });
  });

  it('uses ~/.kube/config when $KUBECONFIG is unset', async () => {
    await mkdir(join(dir, '.kube'));
    await writeFile(join(dir, '.kube', 'config'), kubeconfig({ server: 'https://home.example:6443', 'insecure-skip-tls-verify': true }, { token: 'static' }));
    const connection = await loadKubeConnection({ HOME: dir, KUBERNETES_SERVICE_HOST: '10.0.0.1' }, join(dir, 'no-service-account'));
    expect(connection.getCurrentCluster()?.server).to.equal('https://home.example:6443');
    const options = await httpsOptions(connection);
    expect(options.rejectUnauthorized).to.equal(false);
    expect(options.headers).to.deep.include({ authorization: 'Bearer static' });
  });

  it('in a pod, uses the service account and the KUBERNETES_SERVICE_* address (IPv6 in brackets)', async () => {
    const serviceAccount = join(dir, 'serviceaccount');
    await mkdir(serviceAccount);
    await writeFile(join(serviceAccount, 'ca.crt'), 'CLUSTER CA');
    await writeFile(join(serviceAccount, 'token'), 'pod-token');
    const connection = await loadKubeConnection({ HOME: dir, KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' }, serviceAccount);
    expect(connection.getCurrentCluster()?.server).to.equal('https://[fd00::1]:443');
    const options = await httpsOptions(connection);
    expect(String(options.ca)).to.equal('CLUSTER CA');
    expect(options.headers).to.deep.include({ authorization: 'Bearer pod-token' });
  });

  it('hands a kubeconfig with an auth plugin (exec) to @kubernetes/client-node', async () => {
    const path = join(dir, 'config');
    await writeFile(path, kubeconfig({ server: 'https://exec.example:6443' }, { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'true' } }));
    const connection = await loadKubeConnection({ KUBECONFIG: path, HOME: dir });
    expect(connection.getCurrentCluster()?.server).to.equal('https://exec.example:6443');
  });
});
