import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { loadAll } from 'js-yaml';

const root = new URL('../../../', import.meta.url);
const digests = new Map(
  readFileSync(new URL('examples/models/SHA256SUMS', root), 'utf8').trim().split('\n')
    .map((line) => line.split(/\s+/))
    .map(([digest, file]) => [file ?? '', digest ?? '']),
);

interface ModelSource { uri?: string; sha256?: string }
interface ExampleDeployment { kind?: string; metadata?: { name?: string }; spec?: { model?: ModelSource & { int8?: ModelSource } } }

describe('unit: examples/', () => {
  const files = readdirSync(new URL('examples/', root)).filter((file) => file.endsWith('.yaml'));

  it('has example ModelDeployments', () => expect(files.length).to.be.greaterThan(0));

  for (const file of files) {
    it(`${file} pins the digests of the models it names from examples/models`, () => {
      const documents = loadAll(readFileSync(new URL(`examples/${file}`, root), 'utf8')) as ExampleDeployment[];
      const sources = documents.filter((doc) => doc?.kind === 'ModelDeployment')
        .flatMap((doc) => [doc.spec?.model, doc.spec?.model?.int8])
        .filter((source): source is ModelSource => Boolean(source?.uri));
      expect(sources.length, 'model sources').to.be.greaterThan(0);
      for (const source of sources) {
        const expected = digests.get(source.uri?.split('/').pop() ?? '');
        if (expected) expect(source.sha256, `sha256 of ${source.uri}`).to.equal(expected);
      }
    });
  }
});
