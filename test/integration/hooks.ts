import { KubeConfig } from '@kubernetes/client-node';
import { startPlane, type RunningPlane } from '../plane/plane.ts';
import { setPlane } from './context.ts';

let running: RunningPlane | undefined;

async function stopPlane(): Promise<void> {
  const plane = running;
  running = undefined;
  setPlane(undefined);
  await plane?.stop();
}

/** Root hooks: one real control plane for the whole integration run, shared by every suite. */
export const mochaHooks = {
  async beforeAll(this: Mocha.Context) {
    this.timeout(30 * 60_000);
    running = await startPlane({ log: (line) => console.log(`      [plane] ${line}`) });
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(running.kubeconfigPath);
    setPlane({ kubeconfigPath: running.kubeconfigPath, kubeConfig, binDir: running.binDir, server: running.server, running });
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => void stopPlane().finally(() => process.exit(130)));
    }
  },
  async afterAll(this: Mocha.Context) {
    this.timeout(60_000);
    await stopPlane();
  },
};
