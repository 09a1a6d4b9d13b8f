import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT } from '../../scripts/repo-root.ts';
import { OperatorSettings } from '../../operator/settings.ts';
import { CHARTED_PROCESSES } from '../../scripts/chart/charted-processes.ts';
import { renderChartFiles, VALUES_SCHEMA_PATH } from '../../scripts/gen-chart.ts';
import type { JsonSchema } from '../../scripts/chart/values-schema.ts';
import { valueAt } from '../support/chart.ts';

describe("the chart's generated files (values.schema.json, the Grafana dashboard)", () => {
  it('match their sources (run `npm run gen:chart` after changing operator/settings.ts or scripts/chart/)', async () => {
    for (const file of renderChartFiles()) {
      const committed = await readFile(join(REPO_ROOT, file.path), 'utf8').catch(() => '');
      expect(committed === file.content, `${file.path} is out of date: run npm run gen:chart and commit the result`).to.equal(true);
    }
  });

  it("give every chart value of the operator's and the activator's settings the setting's type, range and allowed words", () => {
    const schema = JSON.parse(renderChartFiles().find((file) => file.path === VALUES_SCHEMA_PATH)!.content) as JsonSchema;
    const at = (path: string) => valueAt(schema, path.split('.').map((key) => `properties.${key}`).join('.')) as JsonSchema | undefined;
    expect(at('workers')).to.include({ type: 'integer', minimum: OperatorSettings.workers.min, maximum: OperatorSettings.workers.max });
    expect(at('logLevel')?.enum).to.deep.equal(OperatorSettings.logLevel.values);
    expect(at('leaderElection.enabled')).to.include({ type: 'boolean' });
    expect(at('analysis.prometheusUrl')).to.include({ type: 'string' });
    for (const { settings } of CHARTED_PROCESSES) {
      for (const setting of Object.values(settings)) {
        if (setting.chart && 'value' in setting.chart) expect(at(setting.chart.value), setting.chart.value).to.not.equal(undefined);
      }
    }
    expect(at('activator.holdSeconds')).to.include({ type: 'integer', minimum: 1, maximum: 3600 });
    expect(schema.additionalProperties, 'a misspelt top-level key is refused').to.equal(false);
  });
});
