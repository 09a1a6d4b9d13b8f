import type { KubernetesObject } from '@kubernetes/client-node';
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { HistoryEntry, StatusView } from '../../cli/rollout-view.ts';
import { plane } from './context.ts';
import { eventually } from '../support/eventually.ts';
import { startOperator, type OperatorProcess } from '../support/operator-process.ts';

interface MdObject extends KubernetesObject {
  spec: { model: { version?: string } };
  status?: { stableRevision?: string; candidateRevision?: string; weights?: { stable: number; candidate: number }; rollout?: { phase: string; step?: number; abortedRevision?: string } };
}
interface PluginRun { code: number; stdout: string; stderr: string }

const repoRoot = new URL('../../', import.meta.url).pathname;
const namespace = `plugin-${Date.now().toString(36)}`;
const kubectl = (args: string[], stdin?: string) => plane().running.kubectl(args, stdin);
const getMd = async (name: string) => JSON.parse(await kubectl(['get', 'modeldeployments.modelship.io', name, '-n', namespace, '-o', 'json'])) as MdObject;
const apply = (name: string, version: string) => kubectl(
  ['apply', '--server-side', '--field-manager=test-user', '-f', '-'],
  JSON.stringify({
    apiVersion: 'modelship.io/v1alpha1',
    kind: 'ModelDeployment',
    metadata: { name, namespace },
    spec: {
      model: { uri: `https://models.example.com/fraud/v${version}/model.onnx`, sha256: version.repeat(64), version },
      replicas: 4,
      rollout: { strategy: 'Canary', canary: { steps: [{ weight: 25 }, { weight: 50 }] } },
    },
  }),
);
const until = (name: string, check: (md: MdObject) => void) => eventually(async () => {
  const md = await getMd(name);
  check(md);
  return md;
}, { timeoutMs: 60_000 });

describe('kubectl modelship plugin, installed with npm install -g and run through kubectl against the real control plane', function () {
  this.timeout(300_000);
  let operator: OperatorProcess;
  let prefix: string;

  /** `kubectl modelship ARGS` as a user runs it: kubectl finds the npm-installed bin on PATH. */
  const plugin = (args: string[], env: Record<string, string> = {}): Promise<PluginRun> => new Promise((resolve) => {
    execFile(join(plane().binDir, 'kubectl'), ['modelship', ...args], {
      env: { ...process.env, PATH: `${join(prefix, 'bin')}:${process.env.PATH ?? ''}`, KUBECONFIG: plane().kubeconfigPath, ...env },
    }, (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr }));
  });
  /** The plugin in the test namespace, expected to succeed. */
  const ok = async (...args: string[]): Promise<string> => {
    const run = await plugin([...args, '-n', namespace]);
    expect(run, `kubectl modelship ${args.join(' ')}`).to.include({ code: 0, stderr: '' });
    return run.stdout;
  };
  const fails = async (args: string[], code: number, stderr: RegExp) => {
    const run = await plugin(args);
    expect(run.code, `exit status of kubectl modelship ${args.join(' ')}: ${run.stderr}`).to.equal(code);
    expect(run.stderr).to.match(stderr);
    expect(run.stdout).to.equal('');
  };
  const statusJson = async (name: string) => JSON.parse(await ok('status', name, '-o', 'json')) as StatusView;

  before(async function () {
    this.timeout(600_000);
    prefix = await mkdtemp(join(tmpdir(), 'modelship-plugin-'));
    // The package's bin entry, installed as a user installs it from a checkout.
    await promisify(execFile)('npm', ['install', '--global', '--prefix', prefix, '--no-audit', '--no-fund', repoRoot]);
    await kubectl(['apply', '--server-side', '-f', 'crds/']);
    await kubectl(['wait', '--for=condition=Established', 'crd/modeldeployments.modelship.io', '--timeout=60s']);
    await kubectl(['create', 'namespace', namespace]);
    operator = await startOperator(plane().kubeconfigPath, 'operator-plugin', { MODELSHIP_WATCH_NAMESPACE: namespace });
  });

  after(async function () {
    this.timeout(120_000);
    await operator?.stop();
    await kubectl(['delete', 'namespace', namespace, '--wait=false', '--ignore-not-found']).catch(() => undefined);
    if (prefix) await rm(prefix, { recursive: true, force: true });
  });

  it('is a kubectl plugin: listed by kubectl plugin list, answers --help, refuses bad usage with exit status 2 and unknown names with the apiserver NotFound', async () => {
    expect((await promisify(execFile)(join(plane().binDir, 'kubectl'), ['plugin', 'list'], { env: { ...process.env, PATH: `${join(prefix, 'bin')}:${process.env.PATH ?? ''}` } })).stdout)
      .to.contain(join(prefix, 'bin', 'kubectl-modelship'));
    const help = await plugin(['--help']);
    expect(help.code).to.equal(0);
    for (const verb of ['status', 'history', 'promote', 'abort', 'retry', 'pause', 'resume', 'undo']) expect(help.stdout).to.match(new RegExp(`^  ${verb} `, 'm'));
    expect((await plugin(['undo', '--help'])).stdout).to.contain('--to-revision=N');

    await fails([], 2, /error: a command is required\nSee 'kubectl modelship --help' for usage\./);
    await fails(['rollback', 'x'], 2, /unknown command "rollback"/);
    await fails(['status'], 2, /status needs the name of a ModelDeployment\nSee 'kubectl modelship status --help'/);
    await fails(['status', 'x', '-o', 'wide'], 2, /allowed formats are: json,yaml/);
    await fails(['abort', 'x', '--full'], 2, /unknown flag for abort: --full/);
    for (const verb of ['status', 'history', 'promote', 'abort', 'retry', 'pause', 'resume', 'undo']) {
      await fails([verb, 'nope', '-n', namespace], 1, /^Error from server \(NotFound\): modeldeployments\.modelship\.io "nope" not found\n$/);
    }
    await fails(['status', 'x', '--context', 'nowhere'], 1, /^error: context "nowhere" does not exist\n$/);
  });

  it('status and history follow a canary; promote, pause and resume steer it, and refuse what the rollout state does not allow', async () => {
    await apply('fraud', '1');
    await until('fraud', (md) => expect(md.status?.rollout?.phase, JSON.stringify(md.status)).to.equal('Stable'));
    const first = await statusJson('fraud');
    expect(first).to.deep.include({ name: 'fraud', namespace, strategy: 'Canary', candidate: null });
    expect(first.stable).to.deep.include({ revision: 1, modelVersion: '1' });
    await fails(['promote', 'fraud', '-n', namespace], 1, /^error: modeldeployments\.modelship\.io "fraud" has no rollout in progress to promote \(rollout Stable\)\n$/);
    await fails(['abort', 'fraud', '-n', namespace], 1, /has no rollout in progress to abort/);
    await fails(['retry', 'fraud', '-n', namespace], 1, /has no aborted rollout to retry/);
    await fails(['resume', 'fraud', '-n', namespace], 1, /"fraud" is not paused/);
    await fails(['undo', 'fraud', '-n', namespace], 1, /^error: modeldeployments\.modelship\.io "fraud" has no revision before its stable revision 1 \(recorded: 1\)\n$/);

    await apply('fraud', '2');
    const waiting = await until('fraud', (md) => expect(md.status?.rollout, JSON.stringify(md.status)).to.include({ phase: 'WaitingForPromotion', step: 0 }));
    const [stable, candidate] = [waiting.status?.stableRevision ?? '', waiting.status?.candidateRevision ?? ''];
    const text = await ok('status', 'fraud');
    expect(text).to.match(/^Rollout: +WaitingForPromotion, step 1\/2 since \S+Z$/m);
    expect(text).to.match(/^Weights: +stable 75%, candidate 25%$/m);
    expect(text).to.match(new RegExp(`^Stable: +${stable} \\(revision 1, model version 1\\)$`, 'm'));
    expect(text).to.match(new RegExp(`^Candidate: +${candidate} \\(revision 2, model version 2\\)$`, 'm'));
    expect(text).to.match(/^ {2}TrafficRouting +False +IstioNotInstalled +\S/m);
    expect(await ok('history', 'fraud')).to.match(new RegExp(`^REVISION +HASH +VERSION +SHA256 +ROLE\\n1 +${stable} +1 +111111111111 +stable\\n2 +${candidate} +2 +222222222222 +candidate\\n$`));

    expect(await ok('pause', 'fraud')).to.equal('modeldeployment.modelship.io/fraud paused\n');
    await fails(['pause', 'fraud', '-n', namespace], 1, /"fraud" is already paused/);
    await until('fraud', (md) => expect(md.status?.rollout?.phase).to.equal('Paused'));
    expect((await statusJson('fraud')).commands).to.deep.equal({ paused: true });
    expect(await ok('resume', 'fraud')).to.equal('modeldeployment.modelship.io/fraud resumed\n');
    expect((await getMd('fraud')).metadata?.annotations?.['modelship.io/paused']).to.equal(undefined);
    await until('fraud', (md) => expect(md.status?.rollout?.phase).to.equal('WaitingForPromotion'));

    expect(await ok('promote', 'fraud')).to.equal('modeldeployment.modelship.io/fraud promotion requested\n');
    await until('fraud', (md) => {
      expect(md.status?.rollout, JSON.stringify(md.status)).to.include({ step: 1 });
      expect(md.status?.weights).to.deep.equal({ stable: 50, candidate: 50 });
    });
    expect((await statusJson('fraud')).rollout?.step).to.deep.equal({ number: 2, of: 2 });
    expect(await ok('promote', 'fraud', '--full')).to.equal('modeldeployment.modelship.io/fraud full promotion requested\n');
    await until('fraud', (md) => expect(md.status?.stableRevision, JSON.stringify(md.status)).to.equal(candidate));
    const entries = JSON.parse(await ok('history', 'fraud', '-o', 'json')) as HistoryEntry[];
    expect(entries.map((entry) => [entry.revision, entry.hash, entry.model.version, entry.role])).to.deep.equal([[1, stable, '1', null], [2, candidate, '2', 'stable']]);
    expect(entries[0]?.model.sha256).to.equal('1'.repeat(64));
    expect(await ok('history', 'fraud', '-o', 'yaml')).to.match(/^- revision: 1\n {2}hash: /);
  });

  it('abort sends the candidate back and retry rolls it out again', async () => {
    await apply('fraud', '3');
    const started = await until('fraud', (md) => expect(md.status?.rollout, JSON.stringify(md.status)).to.include({ phase: 'WaitingForPromotion' }));
    const candidate = started.status?.candidateRevision ?? '';
    expect(await ok('abort', 'fraud')).to.equal('modeldeployment.modelship.io/fraud abort requested\n');
    await until('fraud', (md) => expect(md.status?.rollout, JSON.stringify(md.status)).to.include({ phase: 'Aborted', abortedRevision: candidate }));
    await fails(['abort', 'fraud', '-n', namespace], 1, /has no rollout in progress to abort \(rollout Aborted\)/);
    expect(await ok('status', 'fraud')).to.match(new RegExp(`^Aborted: +${candidate} \\(revision 3, model version 3\\), Requested$`, 'm'));
    expect((JSON.parse(await ok('history', 'fraud', '-o', 'json')) as HistoryEntry[]).find((entry) => entry.hash === candidate)?.role).to.equal('aborted');

    expect(await ok('retry', 'fraud')).to.equal(`modeldeployment.modelship.io/fraud retry of revision ${candidate} requested\n`);
    await until('fraud', (md) => expect(md.status?.rollout, JSON.stringify(md.status)).to.include({ phase: 'WaitingForPromotion', step: 0 }));
    expect((await statusJson('fraud')).candidate).to.deep.include({ hash: candidate, revision: 3 });
    await ok('abort', 'fraud');
    await until('fraud', (md) => expect(md.status?.rollout?.phase).to.equal('Aborted'));
  });

  it('undo rolls the spec back to the revision before stable or to --to-revision, and says when a revision does not exist', async () => {
    const before = await getMd('fraud');
    const [one, two, three] = JSON.parse(await ok('history', 'fraud', '-o', 'json')) as HistoryEntry[];
    expect(before.status?.stableRevision).to.equal(two?.hash);

    expect(await ok('undo', 'fraud')).to.equal(`modeldeployment.modelship.io/fraud rolled back to ${one?.hash} (revision 1, model version 1)\n`);
    const undone = await getMd('fraud');
    expect(undone.spec.model).to.deep.include({ version: '1', sha256: '1'.repeat(64), uri: 'https://models.example.com/fraud/v1/model.onnx' });
    // The operator rolls the recorded revision out again, renumbered as the newest (as Deployments are).
    await until('fraud', (md) => expect(md.status?.candidateRevision, JSON.stringify(md.status)).to.equal(one?.hash));
    await eventually(async () => expect((await statusJson('fraud')).candidate).to.deep.equal({ hash: one?.hash, revision: 4, modelVersion: '1' }));
    await ok('promote', 'fraud', '--full');
    await until('fraud', (md) => expect(md.status?.stableRevision).to.equal(one?.hash));
    expect((JSON.parse(await ok('history', 'fraud', '-o', 'json')) as HistoryEntry[]).map((entry) => [entry.revision, entry.hash, entry.role]))
      .to.deep.equal([[2, two?.hash, null], [3, three?.hash, null], [4, one?.hash, 'stable']]);

    await fails(['undo', 'fraud', '--to-revision', '1', '-n', namespace], 1, /^error: unable to find revision 1 of modeldeployments\.modelship\.io "fraud" \(recorded: 2, 3, 4\)\n$/);
    expect(await ok('undo', 'fraud', '--to-revision', '2')).to.equal(`modeldeployment.modelship.io/fraud rolled back to ${two?.hash} (revision 2, model version 2)\n`);
    expect((await getMd('fraud')).spec.model.version).to.equal('2');
    await eventually(async () => expect((await statusJson('fraud')).candidate).to.deep.equal({ hash: two?.hash, revision: 5, modelVersion: '2' }));
    expect(await ok('undo', 'fraud', '--to-revision=5')).to.equal(`modeldeployment.modelship.io/fraud skipped rollback (the spec already is ${two?.hash} (revision 5, model version 2))\n`);
  });

  it("takes the namespace from the kubeconfig context, --kubeconfig over $KUBECONFIG, and --context as kubectl does", async () => {
    const kubeconfig = join(prefix, 'kubeconfig');
    await writeFile(kubeconfig, await readFile(plane().kubeconfigPath));
    const config = (args: string[]) => promisify(execFile)(join(plane().binDir, 'kubectl'), ['config', ...args, `--kubeconfig=${kubeconfig}`]);
    const current = (await config(['current-context'])).stdout.trim();
    await config(['set-context', current, `--namespace=${namespace}`]);
    const cluster = (await config(['view', '-o', `jsonpath={.contexts[?(@.name=="${current}")].context.cluster}`])).stdout;
    const user = (await config(['view', '-o', `jsonpath={.contexts[?(@.name=="${current}")].context.user}`])).stdout;
    await config(['set-context', 'elsewhere', `--cluster=${cluster}`, `--user=${user}`, '--namespace=default']);

    const viaContextNamespace = await plugin(['history', 'fraud'], { KUBECONFIG: kubeconfig });
    expect(viaContextNamespace, 'no -n: the current context names the namespace').to.include({ code: 0 });
    expect(viaContextNamespace.stdout).to.match(/^REVISION/);
    expect(await plugin(['history', 'fraud', `--kubeconfig=${kubeconfig}`], { KUBECONFIG: join(prefix, 'missing') })).to.include({ code: 0 });
    const otherContext = await plugin(['status', 'fraud', '--context', 'elsewhere'], { KUBECONFIG: kubeconfig });
    expect(otherContext.code).to.equal(1);
    expect(otherContext.stderr).to.equal('Error from server (NotFound): modeldeployments.modelship.io "fraud" not found\n');
    expect(await plugin(['status', 'fraud', '--context', 'elsewhere', '-n', namespace], { KUBECONFIG: kubeconfig })).to.include({ code: 0 });
  });
});
