import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { REPO_ROOT } from '../../scripts/repo-root.ts';
import { ensurePython, runPython } from '../runtime/python.ts';
import { eventually } from '../support/eventually.ts';
import { codeBlocks, shownLinePattern, under, type CodeBlock } from './markdown.ts';

/**
 * The pages a newcomer follows, executed: docs/quickstart.md's local path (section 1, and step 3's
 * requests as section 1 says to send them), the README's account of the demo, and docs/rollouts.md's
 * manual-control commands, all against `npm run demo -- --keep` started as the page says. Section 2
 * (a cluster with the chart) is the chart tests' ground (test/integration/chart*.test.ts).
 * Two deviations, both because a test must not change the machine it runs on: `npm ci` is the step
 * that installed this checkout already, and `npm link` is a kubectl-modelship link on PATH.
 */
const QUICKSTART = 'docs/quickstart.md';
const ROLLOUTS = 'docs/rollouts.md';
const DEMO_NAMESPACE = 'demo';
const DEMO_MODEL = 'fraud-registry';
const RUNNING = '== running; Ctrl-C to stop';

interface Addresses { kubeconfig: string; mlflow: string; rest: string; grpc: string }
interface MdView {
  status?: { stableRevision?: string; candidateRevision?: string; rollout?: { phase?: string; step?: number }; conditions?: { type: string; status: string }[] };
}

/** The JSON objects printed one after another (curl adds no newline after a body). */
function jsonObjectsIn(text: string): string[] {
  const objects: string[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (inString) {
      if (char === '\\') i++;
      else if (char === '"') inString = false;
    } else if (char === '"') inString = true;
    else if (char === '{') {
      if (depth++ === 0) start = i;
    } else if (char === '}' && --depth === 0) objects.push(text.slice(start, i + 1));
  }
  return objects;
}

const bash = (script: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> =>
  new Promise((resolve, reject) => {
    const child = spawn('bash', ['-euo', 'pipefail', '-c', script], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });

describe('docs executed: the quickstart, the README\'s demo and rollouts.md\'s manual control, against `npm run demo -- --keep`', function () {
  this.timeout(180_000);
  let quickstart: CodeBlock[];
  let demo: ChildProcess | undefined;
  let output = '';
  let addresses: Addresses;
  let pluginDir: string;
  let env: NodeJS.ProcessEnv;
  /** Runs a block of the pages as a reader in a second shell would: the demo's KUBECONFIG exported, the plugin linked. */
  const reader = async (script: string) => {
    const result = await bash(script, env);
    expect(result.code, `${script}\n${result.stdout}\n${result.stderr}`).to.equal(0);
    return result.stdout;
  };
  const getMd = async () => JSON.parse(await reader(`kubectl get md ${DEMO_MODEL} -n ${DEMO_NAMESPACE} -o json`)) as MdView;

  before(async function () {
    this.timeout(1_800_000);
    quickstart = await codeBlocks(QUICKSTART);
    const [start] = under(quickstart, '1. Locally', QUICKSTART);
    expect(start?.text, 'the first command of the local path').to.equal('npm ci && npm run demo -- --keep');
    demo = spawn('npm', ['run', 'demo', '--', '--keep'], { cwd: REPO_ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    for (const stream of [demo.stdout, demo.stderr]) stream?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const printed = await eventually(async () => {
      expect(demo?.exitCode, `the demo exited:\n${output.slice(-4000)}`).to.equal(null);
      const tail = output.slice(output.indexOf(RUNNING));
      expect(output).to.include(RUNNING);
      const grpc = /gRPC:\s+(\S+)/.exec(tail);
      expect(grpc, 'the addresses follow the running line').to.not.equal(null);
      return tail;
    }, { timeoutMs: 1_500_000, intervalMs: 1_000 });
    const field = (pattern: RegExp) => {
      const found = pattern.exec(printed)?.[1];
      if (!found) throw new Error(`the demo did not print ${pattern}:\n${printed}`);
      return found;
    };
    addresses = {
      kubeconfig: field(/export KUBECONFIG=(\S+)/),
      mlflow: field(/MLflow: (\S+)/),
      rest: field(/REST:\s+curl (http:\/\/[\d.:]+)\//),
      grpc: field(/gRPC:\s+(\S+)/),
    };
    pluginDir = await mkdtemp(join(tmpdir(), 'modelship-docs-plugin-'));
    await symlink(join(REPO_ROOT, 'bin/kubectl-modelship.js'), join(pluginDir, 'kubectl-modelship'));
    const kubectlDir = (await bash('echo ~/.cache/modelship/plane/k8s-*/bin', process.env)).stdout.trim();
    env = { ...process.env, KUBECONFIG: addresses.kubeconfig, PATH: `${pluginDir}:${kubectlDir}:${process.env.PATH ?? ''}` };
  });

  after(async function () {
    this.timeout(240_000);
    if (demo?.pid && demo.exitCode === null) {
      const exited = new Promise((resolve) => demo?.once('exit', resolve));
      // The demo stops everything on SIGTERM (node, plane, MLflow), as its page says.
      process.kill(-demo.pid, 'SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
      // npm exits at once; the demo itself goes on stopping the node and the plane: wait for the whole group.
      const group = -demo.pid;
      const alive = () => { try { process.kill(group, 0); return true; } catch { return false; } };
      const deadline = Date.now() + 180_000;
      while (alive() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 500));
      if (alive()) process.kill(group, 'SIGKILL');
    }
    if (pluginDir) await rm(pluginDir, { recursive: true, force: true });
  });

  it('the demo ends with the lines section 1 shows: KUBECONFIG, MLflow, the Service\'s REST and gRPC addresses', () => {
    const blocks = under(quickstart, '1. Locally', QUICKSTART);
    const shown = blocks.find((block) => block.lang === 'text' && block.text.includes(RUNNING));
    expect(shown, 'section 1 shows the demo\'s last lines').to.not.equal(undefined);
    const printed = output.slice(output.indexOf(RUNNING)).split('\n');
    let from = 0;
    for (const line of shown?.text.split('\n').filter((text) => text.trim()) ?? []) {
      const pattern = shownLinePattern(line);
      const at = printed.findIndex((candidate, index) => index >= from && pattern.test(candidate));
      expect(at, `the page shows "${line.trim()}"; the demo printed:\n${printed.join('\n')}`).to.be.at.least(0);
      from = at + 1;
    }
  });

  it('the README tells the demo that runs, step by step, in the order the demo prints them', async () => {
    const readme = (await readFile(join(REPO_ROOT, 'README.md'), 'utf8')).replace(/\s+/g, ' ');
    // What the README says the demo does, and the line of the demo's output that shows it.
    const steps: [string, RegExp][] = [
      ['starts etcd, kube-apiserver, kube-controller-manager and kube-scheduler', /== starting the control plane/],
      ['and one real node', /== starting a real node/],
      ['loads the runtime image into it', /== loading the runtime image/],
      ['installs the CRD', /== installing the ModelDeployment CRD/],
      ['runs the operator', /== starting the operator/],
      ['starts a real MLflow tracking\nserver', /== starting an MLflow model registry/],
      ['applies\n`examples/registry.yaml`', /== applying examples\/registry\.yaml in namespace demo/],
      ['shows `kubectl get md`', /== kubectl get md,pods -n demo/],
      ['and `kubectl modelship status` once it is Ready', /== kubectl modelship status fraud-registry\n(.*\n)*?\s*Phase:\s+Ready/],
      ['sends a V2 inference request', /POST http:\/\/[\d.]+:8080\/v2\/models\/fraud-registry\/infer\n\s+200 /],
      ['registers version 2 and moves the alias', /== promoting in the registry: version 2/],
      ['starts a canary', /== the operator saw the alias move and started a canary/],
      ['the versions of 40 requests through the Service are counted', /40 requests through Service fraud-registry\n\s+version \d: \d+, version \d: \d+/],
      ['`kubectl modelship promote\n--full` finishes the rollout', /== kubectl modelship promote fraud-registry --full/],
      ['(`kubectl modelship history`)', /== kubectl modelship history fraud-registry/],
      ['after which only version 2 answers', /20 requests through Service fraud-registry\n\s+version 2: 20\n/],
    ];
    let from = 0;
    for (const [said, shown] of steps) {
      expect(readme, 'the README still says it').to.include(said.replace(/\s+/g, ' '));
      const match = shown.exec(output.slice(from));
      expect(match, `README: "${said}", shown by ${shown}; the demo printed, from there on:\n${output.slice(from, from + 12_000)}`).to.not.equal(null);
      from += (match?.index ?? 0) + (match?.[0].length ?? 0);
    }
  });

  it('section 1\'s commands, in a second shell, show the ModelDeployment Ready and its pods running', async () => {
    const [, commands] = under(quickstart, '1. Locally', QUICKSTART).filter((block) => block.lang === 'bash');
    expect(commands?.text).to.include('export KUBECONFIG=').and.to.include('kubectl get md,pods -n demo');
    // The page's KUBECONFIG line is the example the demo printed; a reader pastes the one theirs printed.
    const script = (commands?.text ?? '').replace(/export KUBECONFIG=\S+/, `export KUBECONFIG=${addresses.kubeconfig}`);
    const shown = await reader(script);
    expect(shown, shown).to.match(/^modeldeployment\.modelship\.io\/fraud-registry\s+\S+\s+2\s+2\/2\s+Ready\s/m);
    expect(shown.match(/^pod\/fraud-registry-\S+\s+1\/1\s+Running\s/gm), shown).to.have.length(2);
  });

  /** Step 3's blocks with what section 1 says to put in their place. */
  const asSectionOneSays = (text: string) => {
    const rest = new URL(addresses.rest);
    return text.replaceAll('localhost:8080', rest.host).replaceAll('localhost:8081', addresses.grpc).replaceAll('fraud-detector', DEMO_MODEL);
  };

  it('step 3\'s curl commands, sent to the demo\'s Service as section 1 says, answer as the page shows', async () => {
    const section = await readFile(join(REPO_ROOT, QUICKSTART), 'utf8');
    expect(section).to.include('model `fraud-registry` and the Service address in place of `localhost:8080`');
    const blocks = under(quickstart, '3. Query the model', QUICKSTART);
    const curls = blocks.find((block) => block.lang === 'bash');
    const answer = blocks.find((block) => block.lang === 'json');
    const printed = await reader(asSectionOneSays(curls?.text ?? ''));
    const [ready, metadata, inference] = [printed.slice(0, printed.indexOf('\n')), ...jsonObjectsIn(printed.slice(printed.indexOf('\n') + 1))];
    expect(ready, printed).to.equal('200');
    const described = JSON.parse(metadata ?? '') as { name: string; inputs: { name: string; datatype: string; shape: number[] }[] };
    expect(described.name).to.equal(DEMO_MODEL);
    expect(described.inputs).to.deep.equal([{ name: 'features', datatype: 'FP32', shape: [-1, 30] }]);
    type Answer = { model_name: string; model_version: string; id: string; outputs: { name: string; datatype: string; shape: number[]; data: number[] }[] };
    const got = JSON.parse(inference ?? '') as Answer;
    const page = JSON.parse(asSectionOneSays(answer?.text ?? '')) as Answer;
    expect(Object.keys(got)).to.deep.equal(Object.keys(page));
    expect({ ...got, outputs: got.outputs.map(({ name, datatype, shape }) => ({ name, datatype, shape })) })
      .to.deep.equal({ ...page, outputs: page.outputs.map(({ name, datatype, shape }) => ({ name, datatype, shape })) });
    expect(got.outputs[0]?.data, 'the labels the page shows').to.deep.equal(page.outputs[0]?.data);
    got.outputs[1]?.data.forEach((probability, i) => expect(probability).to.be.closeTo(page.outputs[1]?.data[i] ?? NaN, 0.05));

    const refused = /`shape \[1,3\]` answers\s+`(\d{3}) (\{.*?\})`/s.exec(section);
    expect(refused, 'the page shows the answer to a bad shape').to.not.equal(null);
    const response = await fetch(`${addresses.rest}/v2/models/${DEMO_MODEL}/infer`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 3], data: [0, 0, 0] }] }),
    });
    expect(`${response.status} ${JSON.stringify(await response.json())}`).to.equal(`${refused?.[1]} ${JSON.stringify(JSON.parse(refused?.[2] ?? '{}'))}`);
  });

  it('step 3\'s tritonclient programs, REST and gRPC, print what their comments say', async () => {
    const python = await ensurePython();
    const programs = under(quickstart, '3. Query the model', QUICKSTART).filter((block) => block.lang === 'python');
    expect(programs).to.have.length(2);
    for (const program of programs) {
      const printed = await runPython(python, ['-c', asSectionOneSays(program.text)], 120_000);
      expect(printed, program.text).to.match(/^\[0 1\]$/m);
    }
  });

  it('rollouts.md\'s manual-control commands do what the page says, on a canary of the demo\'s model', async () => {
    const [commands] = under(await codeBlocks(ROLLOUTS), 'Manual control', ROLLOUTS);
    const lines = (commands?.text ?? '').split('\n').map((line) => line.replace(/#.*$/, '').trim()).filter(Boolean);
    const shown = (verb: string) => {
      const line = lines.find((candidate) => candidate === `kubectl modelship ${verb}`);
      if (!line) throw new Error(`${ROLLOUTS} no longer shows "kubectl modelship ${verb}"`);
      return `${line.replace('NAME', DEMO_MODEL)} -n ${DEMO_NAMESPACE}`;
    };
    const command = (verb: string) => reader(shown(verb));
    const phase = (expected: string | string[], check: (md: MdView) => void = () => undefined) => eventually(async () => {
      const md = await getMd();
      expect([expected].flat(), JSON.stringify(md.status)).to.include(md.status?.rollout?.phase);
      check(md);
      return md;
    }, { timeoutMs: 90_000, intervalMs: 500 });

    // A new rollout: the registry's alias back on version 1, as a rollback in MLflow would do.
    const stable = (await getMd()).status?.stableRevision;
    const moved = await fetch(`${addresses.mlflow}/api/2.0/mlflow/registered-models/alias`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'fraud', alias: 'champion', version: '1' }),
    });
    expect(moved.status, await moved.text()).to.equal(200);
    // The demo's canary steps have no pause: each waits for a promote.
    const waiting = ['Progressing', 'WaitingForPromotion'];
    const started = await phase(waiting, (md) => expect(md.status?.rollout?.step).to.equal(0));
    const candidate = started.status?.candidateRevision;
    expect(candidate).to.be.a('string').and.not.equal(stable);

    expect(await command('pause NAME')).to.include('paused');
    await phase('Paused');
    expect(await command('resume NAME')).to.include('resumed');
    await phase(waiting, (md) => expect(md.status?.rollout?.step).to.equal(0));
    await command('promote NAME');
    // "finish the current step": step 1 of 2 ends, step 2 waits for the next promote.
    await phase('WaitingForPromotion', (md) => expect(md.status?.rollout?.step).to.equal(1));
    await command('abort NAME');
    await phase('Aborted', (md) => expect(md.status?.candidateRevision).to.equal(undefined));
    await command('retry NAME');
    await phase(waiting, (md) => expect([md.status?.candidateRevision, md.status?.rollout?.step]).to.deep.equal([candidate, 0]));
    await command('promote NAME --full');
    await phase('Stable', (md) => expect([md.status?.stableRevision, md.status?.candidateRevision]).to.deep.equal([candidate, undefined]));
    // A models:/ alias decides the version, not the spec: undo says so and changes nothing.
    for (const verb of ['undo NAME', 'undo NAME --to-revision=3']) {
      const undone = await bash(shown(verb), env);
      expect(undone.code, undone.stdout).to.not.equal(0);
      expect(undone.stderr).to.include('models:/fraud@champion').and.to.include('alias champion');
    }
    expect((await getMd()).status?.stableRevision).to.equal(candidate);
  });
});
