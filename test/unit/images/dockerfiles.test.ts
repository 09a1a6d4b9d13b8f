import dockerignoreModule from '@balena/dockerignore';
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { baseImage } from '../../support/base-images.ts';
import {
  expandVariables, imageReferences, parseCopy, parseDockerfile, parseImageReference, parseKeyValues, stagesFor,
  type Dockerfile,
} from '../../support/dockerfile.ts';

const repo = new URL('../../../', import.meta.url);
const read = (path: string): string => readFileSync(new URL(path, repo), 'utf8');
const DOCKERFILES = ['Dockerfile.operator', 'Dockerfile.runtime'];
const load = (path: string): Dockerfile => parseDockerfile(read(path));
const packageJson = JSON.parse(read('package.json')) as { license: string };

/** The registry image a build starts its final stage from, and the COPY destinations along that chain. */
function finalChain(file: Dockerfile, buildArgs: Record<string, string>): { image: string; copiedTo: string[] } {
  const stages = stagesFor(file, buildArgs);
  const copiedTo: string[] = [];
  let current = stages[stages.length - 1];
  for (;;) {
    for (const instruction of current!.stage.instructions) if (instruction.keyword === 'COPY') copiedTo.push(parseCopy(instruction.args).destination);
    const base = current!.base;
    if (base.kind === 'image') return { image: base.reference, copiedTo };
    current = stages.find((resolved) => resolved.stage === base.stage);
  }
}

describe('Dockerfiles', () => {
  for (const path of DOCKERFILES) {
    it(`${path} pins every FROM and COPY --from image by sha256 digest, keeping its tag for people and Renovate`, () => {
      const references = imageReferences(load(path));
      expect(references.length, 'images found').to.be.greaterThan(0);
      for (const { reference, line } of references) {
        const { tag, digest } = parseImageReference(reference);
        expect(digest, `line ${line}: ${reference}`).to.match(/^sha256:[0-9a-f]{64}$/);
        expect(tag, `line ${line}: ${reference}`).to.be.a('string').and.not.equal('latest');
      }
    });

    it(`${path} labels the image (OCI annotations, the licence package.json declares) and runs it as a numeric non-root user`, () => {
      const final = load(path).stages.at(-1)!;
      const labels = Object.fromEntries(final.instructions.filter((i) => i.keyword === 'LABEL').flatMap((i) => parseKeyValues(i.args, 'LABEL')));
      for (const name of ['title', 'description', 'source', 'version', 'revision', 'licenses']) expect(labels, name).to.have.property(`org.opencontainers.image.${name}`);
      expect(labels['org.opencontainers.image.licenses']).to.equal(packageJson.license);
      const user = final.instructions.filter((i) => i.keyword === 'USER').at(-1)?.args;
      expect(user, 'USER uid:gid, numeric so runAsNonRoot can check it').to.match(/^[1-9]\d*:[1-9]\d*$/);
      expect(final.instructions.some((i) => i.keyword === 'EXPOSE'), 'EXPOSE').to.equal(true);
    });
  }

  it('pins an image both Dockerfiles use to the same digest', () => {
    const digests = new Map<string, Set<string>>();
    for (const path of DOCKERFILES) {
      for (const { reference } of imageReferences(load(path))) {
        const { repository, tag, digest } = parseImageReference(reference);
        const key = `${repository}:${tag}`;
        digests.set(key, (digests.get(key) ?? new Set()).add(digest ?? ''));
      }
    }
    for (const [image, found] of digests) expect([...found], image).to.have.length(1);
  });

  it('Dockerfile.runtime builds the CPU image on distroless Node and the CUDA 12 one on NVIDIA\'s CUDA runtime, each with the node its ENTRYPOINT runs', () => {
    const file = load('Dockerfile.runtime');
    const entrypoint = JSON.parse(file.stages.at(-1)!.instructions.find((i) => i.keyword === 'ENTRYPOINT')!.args) as string[];
    const expected = { cpu: 'gcr.io/distroless/nodejs20-debian12', cuda12: 'nvidia/cuda' };
    for (const [variant, repository] of Object.entries(expected)) {
      const { image, copiedTo } = finalChain(file, { VARIANT: variant });
      expect(parseImageReference(image).repository, variant).to.equal(repository);
      const hasNode = baseImage(image).nodeAt === entrypoint[0] || copiedTo.includes(entrypoint[0]!);
      expect(hasNode, `${variant}: ${entrypoint[0]} comes with the base or a COPY`).to.equal(true);
    }
    expect(() => stagesFor(file, { VARIANT: 'rocm' })).to.throw(/base-rocm names no earlier stage/);
  });

  it('.dockerignore keeps installs, build output, Python environments, caches and keys out of every build context', () => {
    const ignore = dockerignoreModule.default().add(read('.dockerignore'));
    const sent = ['package.json', 'package-lock.json', '.npmrc', 'operator/main.ts', 'runtime/main.ts', 'runtime/protocol/grpc_predict_v2.proto', 'runtime/contract.ts'];
    const kept = [
      'node_modules/typescript/package.json', 'operator/node_modules/x.js', 'dist/operator/main.js', '.venv/bin/python', '.venv-triton/bin/python',
      '.cache/modelship/plane/etcd', '.git/config', 'certs/tls.key', 'pki/ca.pem', 'kubeconfig', 'test/plane/kubeconfig.yaml', '.env', 'npm-debug.log',
      'test/unit/docs.test.ts', 'examples/models/fraud-fp32.onnx',
    ];
    for (const path of sent) expect(ignore.ignores(path), `${path} is sent`).to.equal(false);
    for (const path of kept) expect(ignore.ignores(path), `${path} stays out`).to.equal(true);
  });
});

describe('Dockerfile reader (test/support/dockerfile.ts)', () => {
  it('joins continued lines, drops comments (also inside a continuation) and splits stages', () => {
    const file = parseDockerfile([
      '# syntax=docker/dockerfile:1', 'ARG BASE=node:20', '', 'FROM ${BASE} AS build', 'RUN a \\', '# a comment', '  && b', 'FROM build', 'COPY --from=build /x ./y',
    ].join('\n'));
    expect(file.globalArgs.map((i) => i.args)).to.deep.equal(['BASE=node:20']);
    expect(file.stages.map((s) => [s.name, s.from])).to.deep.equal([['build', '${BASE}'], [undefined, 'build']]);
    expect(file.stages[0]!.instructions[0]).to.include({ keyword: 'RUN', line: 5 });
    expect(file.stages[0]!.instructions[0]!.args).to.match(/^a\s+&& b$/);
    expect(stagesFor(file, {}).map((s) => s.base.kind === 'image' ? s.base.reference : s.base.stage.name)).to.deep.equal(['node:20', 'build']);
    expect(stagesFor(file, { BASE: 'node:22' })[0]!.base).to.deep.equal({ kind: 'image', reference: 'node:22' });
  });

  it('expands variables and reads quoted KEY=value pairs', () => {
    expect(expandVariables('a-$X-${Y}-${Z:-dflt}', { X: '1', Y: '2' })).to.equal('a-1-2-dflt');
    expect(parseKeyValues('a=1 b="two words" c="x\\"y" d', 'LABEL')).to.deep.equal([['a', '1'], ['b', 'two words'], ['c', 'x"y'], ['d', undefined]]);
    expect(parseKeyValues('NODE_ENV production', 'ENV')).to.deep.equal([['NODE_ENV', 'production']]);
  });

  it('refuses what it does not know instead of skipping it', () => {
    expect(() => parseDockerfile('FROM x:1\nHEALTHCHECK CMD true')).to.throw(/HEALTHCHECK is not an instruction this reader knows/);
    expect(() => parseDockerfile('FROM x:1\nRUN a \\')).to.throw(/ends inside a continued instruction/);
    expect(() => parseCopy('--exclude=x a b')).to.throw(/--exclude=x/);
  });
});
