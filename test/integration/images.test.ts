import { expect } from 'chai';
import { RuntimeContract } from '../../runtime/contract.ts';
import { chmod, copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { plane } from './context.ts';
import { eventually } from '../support/eventually.ts';
import { containerProcess, listTree, replayImage, setReadOnly, type ProcessCommand, type ReplayedImage } from '../support/image-replay.ts';
import { startOperator, type OperatorProcess } from '../support/operator-process.ts';
import { closedPort, fraudRequest, modelPath, postJson, REPO_ROOT, startTestRuntime, type V2InferResponse } from '../runtime/helpers.ts';
import { spawnRuntime, type RuntimeProcess } from '../runtime/process.ts';

/**
 * No Docker engine runs here: each image's final filesystem is rebuilt from its Dockerfile by
 * test/support/image-replay.ts (so a broken COPY or RUN line fails these tests), made read-only, and
 * its ENTRYPOINT/CMD run with only the image's environment and, as root, as the image's USER.
 */

interface LockFile { packages: Record<string, { dev?: boolean; optional?: boolean }> }

// Read synchronously: a top-level await would load this file as a separate ES module graph, with its
// own copy of context.ts that the root hooks never fill.
const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as LockFile;
const lockPackages = Object.entries(lock.packages).filter(([path]) => path.startsWith('node_modules/'));
const devOnly = lockPackages.filter(([, info]) => info.dev).map(([path]) => path);

/** What the image's app directory holds beyond the production install of package-lock.json. */
async function productionLayout(image: ReplayedImage, removedOnPurpose: string[]): Promise<{ entries: string[]; devPresent: string[]; prodMissing: string[]; notJs: string[]; stray: string[] }> {
  const app = join(image.root, image.config.workdir);
  const prodMissing = lockPackages
    .filter(([path, info]) => !info.dev && !info.optional && !removedOnPurpose.some((removed) => path === removed || path.startsWith(`${removed}/`)))
    .map(([path]) => path).filter((path) => !existsSync(join(app, path)));
  const everything = await listTree(image.root);
  return {
    entries: (await readdir(app)).sort(),
    devPresent: devOnly.filter((path) => existsSync(join(app, path))),
    prodMissing,
    notJs: (await listTree(app, 'dist')).filter((path) => /\.(ts|map)$/.test(path)),
    stray: everything.filter((path) => /(^|\/)(\.venv[^/]*|test|\.cache)$/.test(path) && !path.includes('node_modules/')),
  };
}

/** What a pod mounts: files the image's user can read, outside the image. */
async function volume(dir: string, files: Record<string, string>): Promise<Record<string, string>> {
  await mkdir(dir, { recursive: true });
  await chmod(dir, 0o755);
  const mounted: Record<string, string> = {};
  for (const [name, source] of Object.entries(files)) {
    mounted[name] = join(dir, name);
    await copyFile(source, mounted[name]);
    await chmod(mounted[name], 0o444);
  }
  return mounted;
}

async function uidOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
}
const expectedUid = (command: ProcessCommand): number => command.uid ?? process.getuid!();

describe('container images: each Dockerfile\'s final filesystem, replayed from the file and run', function () {
  this.timeout(10 * 60_000);
  let work: string;
  const log = (line: string) => console.log(`      [image replay] ${line}`);

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'modelship-images-'));
    // The image's user must reach the filesystem (mkdtemp makes the directory owner-only).
    await chmod(work, 0o755);
  });
  after(async () => {
    if (!work) return;
    await setReadOnly(work, false);
    await rm(work, { recursive: true, force: true });
  });

  describe('operator image (Dockerfile.operator)', () => {
    const namespace = `images-${Date.now().toString(36)}`;
    let image: ReplayedImage;
    let command: ProcessCommand;
    let operator: OperatorProcess | undefined;

    before(async function () {
      const started = Date.now();
      image = await replayImage({ dockerfile: join(REPO_ROOT, 'Dockerfile.operator'), context: REPO_ROOT, into: join(work, 'operator'), log });
      log(`operator image replayed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      await setReadOnly(image.root, true);
      command = containerProcess(image);
    });
    after(async () => {
      await operator?.stop();
      await plane().running.kubectl(['delete', 'namespace', namespace, '--wait=false', '--ignore-not-found']);
    });

    it('holds package.json, the compiled operator and the production dependencies only (no TypeScript, dev dependencies, onnxruntime, tests or .venv)', async () => {
      const removed = ['node_modules/onnxruntime-node', 'node_modules/onnxruntime-common'];
      const layout = await productionLayout(image, removed);
      expect(devOnly, 'the lock file marks dev dependencies').to.include.members(['node_modules/typescript', 'node_modules/mocha', 'node_modules/tsx']);
      expect(layout).to.deep.equal({ entries: ['dist', 'node_modules', 'package.json'], devPresent: [], prodMissing: [], notJs: [], stray: [] });
      for (const path of removed) expect(existsSync(join(image.root, 'app', path)), path).to.equal(false);
      expect(await readdir(join(image.root, 'app', 'dist'))).to.have.members(['operator', 'runtime']);
      expect(image.config).to.deep.include({ user: '65532:65532', workdir: '/app', env: { NODE_ENV: 'production' }, exposed: ['8081'] });
    });

    it('reconciles a ModelDeployment to Ready, run as the image runs it (its user, read-only root, NODE_ENV=production, no tsx)', async () => {
      const { kubeconfig } = await volume(join(work, 'operator-secrets'), { kubeconfig: plane().kubeconfigPath });
      await plane().running.kubectl(['apply', '--server-side', '-f', 'crds/']);
      await plane().running.kubectl(['create', 'namespace', namespace]);
      operator = await startOperator(kubeconfig!, 'image-operator', { MODELSHIP_WATCH_NAMESPACE: namespace }, { command });
      expect(await uidOf(operator.child.pid!), 'the process runs as the image\'s USER').to.equal(expectedUid(command));
      await plane().running.kubectl(['apply', '--server-side', '--field-manager=test-user', '-f', '-'], JSON.stringify({
        apiVersion: 'modelship.io/v1alpha1', kind: 'ModelDeployment', metadata: { name: 'fraud', namespace },
        spec: {
          model: { uri: 'https://models.example.com/fraud/v1/model.onnx', sha256: 'a'.repeat(64), version: '1' },
          runtime: { resources: { requests: { cpu: '500m', memory: '512Mi' }, limits: { cpu: '1', memory: '1Gi' } } },
          replicas: 1,
        },
      }));
      await eventually(async () => {
        const md = JSON.parse(await plane().running.kubectl(['get', 'modeldeployments.modelship.io', 'fraud', '-n', namespace, '-o', 'json'])) as {
          status?: { ready?: string; conditions?: Array<{ type: string; status: string }> };
        };
        expect(md.status?.conditions?.find((c) => c.type === 'Ready'), JSON.stringify(md.status)).to.include({ status: 'True' });
        expect(md.status?.ready).to.equal('1/1');
      }, { timeoutMs: 90_000 });
      expect(operator.child.exitCode, 'still running').to.equal(null);
    });
  });

  describe('runtime image (Dockerfile.runtime, VARIANT=cpu)', () => {
    let image: ReplayedImage;
    let command: ProcessCommand;
    let runtime: RuntimeProcess | undefined;

    before(async function () {
      const started = Date.now();
      image = await replayImage({ dockerfile: join(REPO_ROOT, 'Dockerfile.runtime'), context: REPO_ROOT, into: join(work, 'runtime'), log });
      log(`runtime image replayed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      await setReadOnly(image.root, true);
      command = containerProcess(image);
    });
    after(async () => {
      if (runtime?.child.exitCode === null) runtime.child.kill('SIGKILL');
    });

    it('holds package.json, the compiled runtime, its .proto and the production dependencies only, with onnxruntime for this platform alone', async () => {
      const layout = await productionLayout(image, []);
      expect(layout).to.deep.equal({ entries: ['dist', 'node_modules', 'package.json'], devPresent: [], prodMissing: [], notJs: [], stray: [] });
      expect(existsSync(join(image.root, 'app/dist/runtime/protocol/grpc_predict_v2.proto')), '.proto next to grpc-server.js').to.equal(true);
      const platforms = await listTree(join(image.root, 'app/node_modules/onnxruntime-node/bin/napi-v6'));
      expect(platforms.filter((path) => path.split('/').length === 2)).to.deep.equal([`linux/${process.arch}`]);
      expect(image.config).to.deep.include({ user: '65532:65532', workdir: '/app', env: { NODE_ENV: 'production' }, exposed: ['8080', '8081'] });
      expect(image.baseReference).to.match(/^gcr\.io\/distroless\/nodejs20-debian12:nonroot@sha256:/);
    });

    it('serves examples/models/fraud-fp32.onnx and answers V2 inference requests, small and large enough for its decoder thread, over loopback as the checkout\'s runtime does, then stops cleanly on SIGTERM', async () => {
      const { model } = await volume(join(work, 'runtime-models'), { model: modelPath('fraud-fp32.onnx') });
      const port = await closedPort();
      runtime = spawnRuntime({ modelUri: model, modelName: 'fraud', port: String(port), logLevel: 'info' }, command);
      const ready = await runtime.waitForLog((line) => line.msg === 'model ready', 60_000).catch((error: Error) => {
        throw new Error(`${error.message}\n${runtime!.stderrTail()}`);
      });
      expect(ready).to.include({ provider: 'cpu' });
      expect(ready.grpc, 'the gRPC server started (its .proto was found)').to.be.a('string');
      expect(await uidOf(runtime.child.pid!), 'the process runs as the image\'s USER').to.equal(expectedUid(command));

      // 400 rows of JSON is past MODELSHIP_DECODE_OFFLOAD_BYTES: decoded on the decoder thread, whose module the image must hold.
      const requests = [fraudRequest(3, 11), fraudRequest(400, 12)];
      expect(JSON.stringify(requests[1]).length).to.be.greaterThan(RuntimeContract.decodeOffloadBytes.default);
      const reference = await startTestRuntime({ modelUri: modelPath('fraud-fp32.onnx'), modelName: 'fraud' });
      try {
        for (const request of requests) {
          const answer = await postJson<V2InferResponse>(`http://127.0.0.1:${port}/v2/models/fraud/infer`, request);
          expect(answer.status, JSON.stringify(answer.body)).to.equal(200);
          const expected = await postJson<V2InferResponse>(`${reference.url}/v2/models/fraud/infer`, request);
          expect(answer.body.outputs).to.deep.equal(expected.body.outputs);
        }
      } finally {
        await reference.close();
      }
      runtime.child.kill('SIGTERM');
      expect(await runtime.exited()).to.equal(0);
    });

    it('follows the Dockerfile: the same file without its .proto COPY line builds an image whose runtime cannot start', async () => {
      const dockerfile = await readFile(join(REPO_ROOT, 'Dockerfile.runtime'), 'utf8');
      const broken = dockerfile.split('\n').filter((line) => !line.includes('grpc_predict_v2.proto ./dist/')).join('\n');
      expect(broken).to.not.equal(dockerfile);
      await writeFile(join(work, 'Dockerfile.broken'), broken);
      const brokenImage = await replayImage({ dockerfile: join(work, 'Dockerfile.broken'), context: REPO_ROOT, into: join(work, 'broken'), log });
      const { model } = await volume(join(work, 'broken-models'), { model: modelPath('fraud-fp32.onnx') });
      const failing = spawnRuntime({ modelUri: model, modelName: 'fraud', port: String(await closedPort()), logLevel: 'info' }, containerProcess(brokenImage));
      expect(await failing.exited(60_000)).to.equal(1);
      expect(JSON.stringify(failing.lines)).to.match(/grpc_predict_v2\.proto/);
    });
  });
});
