import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT } from '../../operator/api/generate-crds.ts';
import { OperatorSettings } from '../../operator/settings.ts';
import { RuntimeContract } from '../../runtime/contract.ts';
import { markdownTable, renderDocFiles, replaceSection } from '../../scripts/gen-docs.ts';

describe('generated docs tables', () => {
  it('runtime/README.md and charts/modelship/README.md match the contracts (run `npm run gen:docs` after changing them)', async () => {
    for (const file of await renderDocFiles()) {
      const committed = await readFile(join(REPO_ROOT, file.path), 'utf8');
      expect(committed === file.content, `${file.path} is out of date with its contract: run npm run gen:docs and commit the result`).to.equal(true);
    }
  });

  it('documents every variable of both contracts', async () => {
    const [runtime, chart] = await renderDocFiles();
    for (const setting of Object.values(RuntimeContract)) expect(runtime!.content).to.contain(`| \`${setting.name}\` |`);
    for (const setting of Object.values(OperatorSettings)) expect(chart!.content).to.contain(`| \`${setting.name}\` |`);
  });

  it('keeps a pipe inside a cell from splitting the table', () => {
    expect(markdownTable(['a', 'b'], [['x | y', 'z']])).to.equal('| a | b |\n| --- | --- |\n| x \\| y | z |');
  });

  it('refuses a file without the section markers instead of appending', () => {
    expect(() => replaceSection('# README\n', 'runtime contract', 'table')).to.throw(/marker comments/);
  });
});
