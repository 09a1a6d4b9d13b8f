import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { OperatorSettings } from '../../operator/settings.ts';
import { PACKAGE_VERSION } from '../../runtime/package-version.ts';
import { SERVER_VERSION } from '../../runtime/protocol/routes.ts';
import { REPO_ROOT } from '../../scripts/repo-root.ts';

const read = (path: string) => readFileSync(join(REPO_ROOT, path), 'utf8');
const { version } = JSON.parse(read('package.json')) as { version: string };

/** Every Modelship image reference in a file: its path, the image and the tag it names. */
function imageTags(path: string): { path: string; image: string; tag: string }[] {
  return [...read(path).matchAll(/ghcr\.io\/modelship\/(operator|runtime):([0-9][\w.-]*)/g)]
    .map((match) => ({ path, image: match[1] as string, tag: (match[2] as string).replace(/-cuda\d+$/, '') }));
}

/** package.json holds the version; every other copy must say the same, so a release bumps one place and this test names the rest. */
describe('the version: package.json, and every copy of it', () => {
  it('is what the code reads (the runtime image default, the V2 server metadata)', () => {
    expect(PACKAGE_VERSION).to.equal(version);
    expect(SERVER_VERSION).to.equal(version);
    expect(OperatorSettings.runtimeImage.default).to.equal(`ghcr.io/modelship/runtime:${version}`);
  });

  it("is the chart's appVersion (the operator image tag it defaults to) and its values' runtimeImage", () => {
    const chart = load(read('charts/modelship/Chart.yaml')) as { appVersion: string };
    const values = load(read('charts/modelship/values.yaml')) as { runtimeImage: string };
    expect(chart.appVersion, 'charts/modelship/Chart.yaml appVersion').to.equal(version);
    expect(values.runtimeImage, 'charts/modelship/values.yaml runtimeImage').to.equal(`ghcr.io/modelship/runtime:${version}`);
  });

  it('is the tag of every Modelship image the Dockerfiles, docs and examples name', () => {
    const files = ['Dockerfile.operator', 'Dockerfile.runtime', 'README.md', 'docs/quickstart.md', 'docs/configuration.md', 'charts/modelship/README.md', 'examples/fraud-detector-gpu.yaml'];
    const tags = files.flatMap(imageTags);
    expect(tags.length, 'image references found').to.be.greaterThan(files.length);
    expect(tags.filter((found) => found.tag !== version)).to.deep.equal([]);
  });
});
