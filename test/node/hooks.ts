import { KubeConfig } from '@kubernetes/client-node';
import { mkdtemp, rm } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { homedir, tmpdir } from 'node:os';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { startPlane, type RunningPlane } from '../plane/plane.ts';
import { REAL_NODE_NAME, startRealNode, type RealNode } from '../plane/node.ts';
import { setPlane } from '../integration/context.ts';
import { loadProjectImages } from '../support/node-images.ts';
import { setRealNode } from './context.ts';

const run = promisify(execFile);

let running: RunningPlane | undefined;
let node: RealNode | undefined;
let scratch: string | undefined;

async function stopAll(): Promise<void> {
  const [plane, realNode] = [running, node];
  running = undefined;
  node = undefined;
  setRealNode(undefined);
  setPlane(undefined);
  // The node first: the plane outlives it.
  try {
    await realNode?.stop();
  } finally {
    await plane?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  }
}

/** Free space and inodes where the node keeps its containers and images (/tmp) and the build caches. */
async function freeDisk(): Promise<string> {
  const { stdout } = await run('df', ['-h', '--output=target,avail,size,ipcent', '/tmp', homedir()]).catch((error: Error) => ({ stdout: error.message }));
  return stdout.trim().split('\n').join('; ');
}

/**
 * Root hooks of the real-node suite: a control plane with no simulated nodes, one real node
 * (containerd + runc + kubelet + kube-proxy + CoreDNS) that every pod lands on, and the project's
 * images loaded into it as a registry pull would.
 */
export const mochaHooks = {
  async beforeAll(this: Mocha.Context) {
    this.timeout(40 * 60_000);
    const log = (line: string) => console.log(`      [real node] ${line}`);
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => void stopAll().finally(() => process.exit(130)));
    }
    running = await startPlane({ nodes: 0, log });
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(running.kubeconfigPath);
    setPlane({ kubeconfigPath: running.kubeconfigPath, kubeConfig, binDir: running.binDir, server: running.server, running });
    node = await startRealNode(running, { log });
    log(`disk: ${await freeDisk()}`);
    scratch = await mkdtemp(join(tmpdir(), 'modelship-node-images-'));
    const started = Date.now();
    const runtimeImage = await loadProjectImages(node, scratch, log);
    log(`images loaded in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    // The node holds the images now; their build trees are gigabytes a long suite does not need.
    await rm(scratch, { recursive: true, force: true });
    scratch = undefined;
    setRealNode({ node, runtimeImageName: runtimeImage.name });
  },
  /** A pod left Pending or an image gone is often the node's doing: say what the node said. */
  async afterEach(this: Mocha.Context) {
    if (this.currentTest?.state !== 'failed' || !running) return;
    this.timeout(60_000);
    const conditions = await running.kubectl(['get', 'node', REAL_NODE_NAME, '-o',
      'jsonpath={range .status.conditions[*]}{.type}={.status} ({.reason}: {.message}){"\\n"}{end}taints: {.spec.taints}']).catch((error: Error) => error.message);
    console.log(`      --- real node after the failure ---\n${conditions}\n      disk: ${await freeDisk()}`);
  },
  async afterAll(this: Mocha.Context) {
    this.timeout(120_000);
    await stopAll();
  },
};
