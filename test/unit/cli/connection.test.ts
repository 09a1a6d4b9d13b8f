import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kubeConfigFor } from '../../../cli/connection.ts';
import { CliError } from '../../../cli/errors.ts';

const kubeconfig = (server: string, namespace?: string) => JSON.stringify({
  apiVersion: 'v1',
  kind: 'Config',
  clusters: [{ name: 'c', cluster: { server } }],
  users: [{ name: 'u', user: { token: 't' } }],
  contexts: [
    { name: 'main', context: { cluster: 'c', user: 'u', ...(namespace && { namespace }) } },
    { name: 'other', context: { cluster: 'c', user: 'u', namespace: 'other-ns' } },
  ],
  'current-context': 'main',
});

describe('kubectl-modelship kubeconfig and namespace, as kubectl picks them', () => {
  let dir: string;
  const saved = { KUBECONFIG: process.env.KUBECONFIG, HOME: process.env.HOME };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kubectl-modelship-'));
    await writeFile(join(dir, 'a'), kubeconfig('https://a.example:6443', 'team-a'));
    await writeFile(join(dir, 'b'), kubeconfig('https://b.example:6443'));
  });
  afterEach(async () => {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    await rm(dir, { recursive: true, force: true });
  });

  it("reads $KUBECONFIG and takes the current context's namespace, else default", () => {
    process.env.KUBECONFIG = join(dir, 'a');
    const a = kubeConfigFor({});
    expect(a.namespace).to.equal('team-a');
    expect(a.kubeConfig.getCurrentCluster()?.server).to.equal('https://a.example:6443');
    process.env.KUBECONFIG = join(dir, 'b');
    expect(kubeConfigFor({}).namespace).to.equal('default');
  });

  it('prefers --kubeconfig to $KUBECONFIG, -n to the context namespace, and --context to the current one', () => {
    process.env.KUBECONFIG = join(dir, 'missing');
    expect(kubeConfigFor({ kubeconfig: join(dir, 'a') }).namespace).to.equal('team-a');
    expect(kubeConfigFor({ kubeconfig: join(dir, 'a'), namespace: 'mine' }).namespace).to.equal('mine');
    expect(kubeConfigFor({ kubeconfig: join(dir, 'a'), context: 'other' }).namespace).to.equal('other-ns');
  });

  it('says which context or file is missing', () => {
    expect(() => kubeConfigFor({ kubeconfig: join(dir, 'a'), context: 'nowhere' })).to.throw(CliError, 'context "nowhere" does not exist');
    expect(() => kubeConfigFor({ kubeconfig: join(dir, 'missing') })).to.throw(CliError, /cannot load kubeconfig .*missing: ENOENT/);
  });

  it('says when there is no kubeconfig at all', function () {
    // Inside a pod, the service account is the configuration kubectl and client-node fall back to.
    if (existsSync('/var/run/secrets/kubernetes.io/serviceaccount/token')) this.skip();
    delete process.env.KUBECONFIG;
    process.env.HOME = dir;
    expect(() => kubeConfigFor({})).to.throw(CliError, 'no kubeconfig found: set KUBECONFIG, pass --kubeconfig, or create ~/.kube/config');
  });
});
