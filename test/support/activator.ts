import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { REPO_ROOT } from '../runtime/helpers.ts';
import { CHART } from './chart.ts';
import { eventually } from './eventually.ts';
import { replayedNodeImage } from './node-images.ts';
import { toolPath } from './test-tools.ts';

type Kubectl = (args: string[], stdin?: string) => Promise<string>;

const run = promisify(execFile);
const NAMESPACE = 'modelship-system';
const RELEASE = 'modelship';
const IMAGE = { repository: 'ghcr.io/modelship/operator', tag: 'real-node-activator' };

export interface RunningActivator {
  /** `<namespace>/<name>` of its Service, for the operator's MODELSHIP_ACTIVATOR_SERVICE. */
  service: string;
  /** Restarts its Deployment (a rolling update, as an upgrade of the chart does) and returns the new pod's address once the old one is gone. */
  rolloutRestart(): Promise<string[]>;
  /** Its pod's log. */
  logs(): Promise<string>;
  stop(): Promise<void>;
}

/**
 * The activator as the chart runs it: Dockerfile.operator's image (replayed from this checkout and
 * loaded into the real node), and the chart's templates/activator.yaml (its ServiceAccount and RBAC,
 * Deployment and Service) applied as Helm renders them, with one replica.
 */
export async function installChartActivator(kubectl: Kubectl, serverVersion: string, loadImage: (image: Awaited<ReturnType<typeof replayedNodeImage>>) => Promise<void>): Promise<RunningActivator> {
  const scratch = await mkdtemp(join(tmpdir(), 'modelship-activator-image-'));
  try {
    await loadImage(await replayedNodeImage({ name: `${IMAGE.repository}:${IMAGE.tag}`, dockerfile: join(REPO_ROOT, 'Dockerfile.operator'), context: REPO_ROOT, scratch }));
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  const helm = await toolPath('build-helm.sh');
  const { stdout: manifests } = await run(helm, [
    'template', RELEASE, CHART, '--namespace', NAMESPACE, '--kube-version', serverVersion, '--show-only', 'templates/activator.yaml',
    '--set', `image.repository=${IMAGE.repository}`, '--set', `image.tag=${IMAGE.tag}`, '--set', 'activator.replicaCount=1',
  ], { maxBuffer: 16 * 1024 * 1024 });
  await kubectl(['create', 'namespace', NAMESPACE]).catch(() => undefined);
  await kubectl(['apply', '-n', NAMESPACE, '-f', '-'], manifests);
  const selector = 'app.kubernetes.io/name=modelship-activator';
  /** The address of its one pod once that is ready (and, with `not`, has another address). */
  const readyPod = (not: string[] = []) => eventually(async () => {
    const pods = JSON.parse(await kubectl(['get', 'pods', '-n', NAMESPACE, '-l', selector, '-o', 'json'])) as { items: { metadata: { deletionTimestamp?: string }; status: { podIP?: string; containerStatuses?: { ready: boolean }[] } }[] };
    const live = pods.items.filter((pod) => !pod.metadata.deletionTimestamp);
    expect(live.map((pod) => pod.status.containerStatuses?.[0]?.ready), 'the activator pod ready').to.deep.equal([true]);
    expect(not, 'a new pod').to.not.include(live[0]!.status.podIP);
    return [live[0]!.status.podIP!];
  }, { timeoutMs: 180_000, intervalMs: 1_000 });
  let addresses = await readyPod().catch(async (error: Error) => {
    const pods = await kubectl(['get', 'pods', '-n', NAMESPACE, '-l', selector, '-o', 'yaml']).catch((e: Error) => e.message);
    const logs = await kubectl(['logs', '-n', NAMESPACE, '-l', selector, '--tail=40']).catch((e: Error) => e.message);
    throw new Error(`${error.message}\n--- the activator's pods ---\n${pods.split('\nstatus:')[1] ?? pods}\n--- its log ---\n${logs}`);
  });
  const name = `${RELEASE}-activator`;
  return {
    service: `${NAMESPACE}/${name}`,
    async rolloutRestart() {
      await kubectl(['rollout', 'restart', 'deployment', name, '-n', NAMESPACE]);
      await kubectl(['rollout', 'status', 'deployment', name, '-n', NAMESPACE, '--timeout=180s']);
      addresses = await readyPod(addresses);
      return addresses;
    },
    logs: () => kubectl(['logs', '-n', NAMESPACE, '-l', selector, '--tail=40']).catch((error: Error) => error.message),
    async stop() {
      await kubectl(['delete', '-n', NAMESPACE, '-f', '-', '--ignore-not-found', '--wait=false'], manifests).catch(() => undefined);
    },
  };
}
