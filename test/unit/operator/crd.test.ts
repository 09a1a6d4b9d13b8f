import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { API_GROUP, API_VERSION, KIND, modelDeploymentCrd, PLURAL } from '../../../operator/api/crd.ts';
import { REPO_ROOT } from '../../../scripts/repo-root.ts';
import { renderCrdFiles } from '../../../scripts/gen-crds.ts';

/** A schema node as it is in JSON (client-node's V1JSONSchemaProps renames the x-kubernetes-* keys). */
interface SchemaNode {
  type?: string;
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  additionalProperties?: SchemaNode | boolean;
  anyOf?: unknown[];
  enum?: unknown[];
  maxItems?: number;
  maxLength?: number;
  maxProperties?: number;
  required?: string[];
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-validations'?: { rule: string; message: string; fieldPath?: string; reason?: string }[];
}

type SchemaVisitor = (schema: SchemaNode, path: string) => void;

function walk(schema: SchemaNode, path: string, visit: SchemaVisitor): void {
  visit(schema, path);
  for (const [name, child] of Object.entries(schema.properties ?? {})) walk(child, `${path}.${name}`, visit);
  if (schema.items) walk(schema.items, `${path}[]`, visit);
  if (typeof schema.additionalProperties === 'object') walk(schema.additionalProperties, `${path}{}`, visit);
}

function openApiSchema(): SchemaNode {
  const schema = modelDeploymentCrd().spec.versions[0]?.schema?.openAPIV3Schema;
  if (!schema) throw new Error('CRD has no schema');
  return schema as SchemaNode;
}

describe('ModelDeployment CRD', () => {
  it('matches the committed YAML in crds/ and the Helm chart (run `npm run gen:crds` after changing operator/api)', async () => {
    for (const file of renderCrdFiles()) {
      const committed = await readFile(join(REPO_ROOT, file.path), 'utf8').catch(() => '');
      expect(committed === file.content, `${file.path} is out of date with operator/api/schema.ts: run npm run gen:crds and commit the result`).to.equal(true);
    }
  });

  it('parses back from YAML to the same object', () => {
    const [file] = renderCrdFiles();
    expect(load(file!.content)).to.deep.equal(modelDeploymentCrd());
  });

  it('names the API as kubectl users address it', () => {
    const crd = modelDeploymentCrd();
    expect(crd.metadata?.name).to.equal(`${PLURAL}.${API_GROUP}`);
    expect(crd.spec.names).to.include({ kind: KIND, plural: PLURAL });
    expect(crd.spec.names.shortNames).to.deep.equal(['md']);
    expect(crd.spec.scope).to.equal('Namespaced');
    const version = crd.spec.versions[0]!;
    expect(version).to.include({ name: API_VERSION, served: true, storage: true });
    expect(version.subresources?.status).to.deep.equal({});
    expect(version.additionalPrinterColumns?.filter((c) => !c.priority).map((c) => c.name)).to.deep.equal(['Model', 'Version', 'Ready', 'Phase', 'Stable', 'Candidate', 'Weight', 'Age']);
  });

  it('is structural: every node typed (or int-or-string), no TypeBox-only constructs', () => {
    walk(openApiSchema(), '', (schema, path) => {
      const intOrString = schema['x-kubernetes-int-or-string'] === true;
      expect(schema.type !== undefined || intOrString || path === '', `${path} has a type`).to.equal(true);
      expect(schema, path).to.not.have.any.keys('patternProperties', 'const', '$ref', '$id', 'oneOf');
      if (schema.anyOf) expect(intOrString, `${path} uses anyOf only for int-or-string`).to.equal(true);
      if (schema.properties) expect(schema.additionalProperties, `${path} mixes properties and additionalProperties`).to.equal(undefined);
    });
  });

  it('requires spec.model.uri by a rule whose message says what a uri looks like (OpenAPI `required` would hide every rule message), and no other model rule trips over a missing uri', () => {
    const model = openApiSchema().properties!.spec!.properties!.model!;
    expect(model.required ?? []).to.not.include('uri');
    const validations = model['x-kubernetes-validations'] ?? [];
    expect(validations[0]).to.deep.include({ rule: 'has(self.uri)', fieldPath: '.uri', reason: 'FieldValueRequired' });
    expect(validations[0]?.message).to.match(/^spec\.model\.uri is required: .*https:\/\/.*s3:\/\/.*models:\//);
    for (const validation of validations.slice(1).filter((v) => v.rule.includes('self.uri'))) expect(validation.rule, validation.message).to.match(/^!has\(self\.uri\) \|\| /);
  });

  it('lets a sha256 that YAML read as a number reach a rule that says to quote it, in model and model.int8', () => {
    const model = openApiSchema().properties!.spec!.properties!.model!;
    for (const [path, sha256] of [['model.sha256', model.properties!.sha256!], ['model.int8.sha256', model.properties!.int8!.properties!.sha256!]] as const) {
      expect(sha256, path).to.include({ 'x-kubernetes-int-or-string': true, maxLength: 64 });
      expect(sha256, `${path}: anyOf would add errors of its own before the rule`).to.not.have.property('anyOf');
      const [stringOnly, digest] = sha256['x-kubernetes-validations'] ?? [];
      expect(stringOnly?.rule, path).to.equal('type(self) == string');
      expect(stringOnly?.message, path).to.match(/YAML read this value as a number; quote it: sha256: "/);
      expect(digest?.rule, path).to.equal("type(self) != string || (self.matches('^[a-f0-9]{64}$'))");
    }
  });

  it('bounds every string and list under a CEL rule, so the apiserver can estimate rule cost', () => {
    walk(openApiSchema().properties!.spec!, '.spec', (schema, path) => {
      if (schema.type === 'array') expect(schema.maxItems, `${path} maxItems`).to.be.a('number');
      if (schema.type === 'object' && schema.additionalProperties) expect(schema.maxProperties, `${path} maxProperties`).to.be.a('number');
      if (schema.type === 'string' && !schema.enum) expect(schema.maxLength, `${path} maxLength`).to.be.a('number');
    });
  });
});
