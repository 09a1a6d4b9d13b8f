import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../../scripts/repo-root.ts';
import { OperatorSettings } from '../../operator/settings.ts';
import { RuntimeContract } from '../../runtime/contract.ts';
import { markdownTable, renderDocFiles, replaceSection } from '../../scripts/gen-docs.ts';
import { fieldRows, modelDeploymentSchema, ruleRows, type SchemaNode } from '../../scripts/api-reference.ts';
import { CRD_PATHS } from '../../scripts/gen-crds.ts';
import { load } from 'js-yaml';

describe('generated docs tables', () => {
  it('runtime/README.md, charts/modelship/README.md, docs/configuration.md and docs/api.md match their sources (run `npm run gen:docs` after changing them)', async () => {
    for (const file of await renderDocFiles()) {
      const committed = await readFile(join(REPO_ROOT, file.path), 'utf8');
      expect(committed === file.content, `${file.path} is out of date with its contract: run npm run gen:docs and commit the result`).to.equal(true);
    }
  });

  it('documents every variable of both contracts', async () => {
    const files = await renderDocFiles();
    const file = (path: string) => files.find((f) => f.path === path)?.content ?? '';
    for (const path of [join('runtime', 'README.md'), join('docs', 'configuration.md')]) {
      for (const setting of Object.values(RuntimeContract)) expect(file(path), path).to.contain(`| \`${setting.name}\` |`);
    }
    for (const path of [join('charts', 'modelship', 'README.md'), join('docs', 'configuration.md')]) {
      for (const setting of Object.values(OperatorSettings)) expect(file(path), path).to.contain(`| \`${setting.name}\` |`);
    }
  });

  describe('docs/api.md', () => {
    const apiPage = async () => readFile(join(REPO_ROOT, 'docs', 'api.md'), 'utf8');
    /** The schema as the apiserver gets it: the committed CRD file, read without the generator. */
    const servedSchema = async () => {
      const crd = load(await readFile(join(REPO_ROOT, CRD_PATHS[0]!), 'utf8')) as { spec: { versions: { schema: { openAPIV3Schema: SchemaNode } }[] } };
      return crd.spec.versions[0]!.schema.openAPIV3Schema;
    };
    /** Every leaf path of a schema, found by walking it here rather than through the page's generator. */
    const leafPaths = (path: string, node: SchemaNode): string[] => {
      const inner = node.type === 'array' ? node.items : node;
      const nested = inner?.properties ? Object.entries(inner.properties) : [];
      const prefix = node.type === 'array' ? `${path}[]` : path;
      return nested.length === 0 ? [path] : nested.flatMap(([key, child]) => leafPaths(`${prefix}.${key}`, child));
    };

    it('has a row for every field of the served CRD, spec and status, with its description', async () => {
      const page = await apiPage();
      const root = await servedSchema();
      const paths = [...leafPaths('spec', root.properties!.spec!), ...leafPaths('status', root.properties!.status!)];
      expect(paths).to.include.members(['spec.model.uri', 'spec.rollout.canary.steps[].weight', 'status.conditions[].reason']);
      for (const path of paths) expect(page, path).to.contain(`| \`${path}\``);
      const descriptions: string[] = [];
      const collect = (node: SchemaNode | undefined): void => {
        if (!node) return;
        if (node.description) descriptions.push(node.description);
        for (const child of Object.values(node.properties ?? {})) collect(child);
        collect(node.items);
      };
      collect(root);
      expect(descriptions.length).to.be.greaterThan(50);
      for (const description of descriptions) expect(page, description).to.contain(description.replaceAll('|', '\\|'));
    });

    it('lists every CEL validation message of the served CRD', async () => {
      const page = await apiPage();
      const messages: string[] = [];
      const collect = (node: SchemaNode | undefined): void => {
        if (!node) return;
        messages.push(...(node['x-kubernetes-validations'] ?? []).map((rule) => rule.message));
        for (const child of Object.values(node.properties ?? {})) collect(child);
        collect(node.items);
      };
      collect(await servedSchema());
      expect(messages).to.include('variant int8 needs model.int8 (the uri and sha256 of the quantized model)');
      for (const message of messages) expect(page, message).to.contain(`| ${message.replaceAll('|', '\\|')} |`);
    });

    it('shows type, default and range of a field, and reports a rule under its fieldPath', () => {
      const rows = fieldRows('spec', modelDeploymentSchema().properties!.spec!, true);
      expect(rows.find((row) => row.path === 'spec.autoscaling.minReplicas')).to.deep.include({ type: 'integer', default: 1, allowed: ['0 – 1000'] });
      expect(rows.find((row) => row.path === 'spec.runtime.executionProviders')).to.deep.include({ type: '[]string (set)', allowed: ['1 – 3 items', 'each: `cuda`, `tensorrt`, `cpu`'] });
      expect(rows.find((row) => row.path === 'spec.model.uri')).to.include({ required: true });
      expect(ruleRows('', modelDeploymentSchema()).find((row) => row.message.startsWith('minReplicas must be'))?.path).to.equal('.spec.autoscaling.minReplicas');
    });
  });

  it('keeps a pipe inside a cell from splitting the table', () => {
    expect(markdownTable(['a', 'b'], [['x | y', 'z']])).to.equal('| a | b |\n| --- | --- |\n| x \\| y | z |');
  });

  it('refuses a file without the section markers instead of appending', () => {
    expect(() => replaceSection('# README\n', 'runtime contract', 'table')).to.throw(/marker comments/);
  });
});

describe('docs/architecture.md', () => {
  it('names only files that exist, so its walk through a pass follows the code', async () => {
    const text = await readFile(join(REPO_ROOT, 'docs/architecture.md'), 'utf8');
    const named = [...text.matchAll(/`((?:operator|runtime|cli|test|scripts|charts|crds|examples|bench)\/[\w./-]+\.(?:ts|sh|yaml|json|md|py))`/g)].map((match) => match[1] ?? '');
    expect(named.length).to.be.greaterThan(20);
    const missing = named.filter((path) => !existsSync(join(REPO_ROOT, path)));
    expect(missing).to.deep.equal([]);
  });
});
