import { KubeConfig } from '@kubernetes/client-node';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OperatorSettings } from '../../operator/settings.ts';
import { startPlane, type RunningPlane } from '../plane/plane.ts';
import { startRealNode, type RealNode } from '../plane/node.ts';
import { setPlane } from '../integration/context.ts';
import { REPO_ROOT } from '../runtime/helpers.ts';
import { baseImageOnly, replayedNodeImage } from '../support/node-images.ts';
import { setRealNode } from './context.ts';

/** The base image examples/models/model-server.yaml runs (the distroless Node image the Modelship images build on). */
export const DISTROLESS_NODE = 'gcr.io/distroless/nodejs20-debian12:nonroot@sha256:2cd820156cf039c8b54ae2d2a97e424b6729070714de8707a6b79f20d56f6a9a';

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
    scratch = await mkdtemp(join(tmpdir(), 'modelship-node-images-'));
    const started = Date.now();
    const runtimeImage = await replayedNodeImage({
      name: OperatorSettings.runtimeImage.default, dockerfile: join(REPO_ROOT, 'Dockerfile.runtime'), context: REPO_ROOT,
      scratch: join(scratch, 'runtime'), log,
    });
    await node.loadImage(runtimeImage);
    await node.loadImage(await baseImageOnly(DISTROLESS_NODE, join(scratch, 'distroless')));
    log(`images loaded in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    setRealNode({ node, runtimeImage });
  },
  async afterAll(this: Mocha.Context) {
    this.timeout(120_000);
    await stopAll();
  },
};
