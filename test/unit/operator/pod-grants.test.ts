import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { authorGrants, namedSecrets, SECRET_NAMING_FIELDS } from '../../../operator/desired/pod-grants.ts';
import { CHART } from '../../support/chart.ts';
import { modelDeployment } from './fixtures.ts';

const SHA = 'a'.repeat(64);

describe('what a ModelDeployment hands its pods (operator/desired/pod-grants.ts)', () => {
  it('finds a Secret in every field that names one', () => {
    const md = modelDeployment({
      model: { uri: 's3://models/fraud.onnx', sha256: SHA, s3: { credentialsSecret: 's3-creds' }, signature: { secret: { name: 'signing-key', key: 'key.pem' } } },
      runtime: { env: [{ name: 'A', value: 'plain' }, { name: 'B', valueFrom: { secretKeyRef: { name: 'db-password', key: 'password' } } }] },
      security: { authSecret: { name: 'client-tokens' }, tls: { secretName: 'serving-cert' } },
    });
    expect(namedSecrets(md)).to.deep.equal(['db-password', 'client-tokens', 'serving-cert', 'signing-key', 's3-creds']);
    const registry = modelDeployment({ model: { uri: 'models:/fraud@champion', mlflow: { trackingUri: 'http://mlflow:5000', tokenSecret: { name: 'mlflow-token' } } } });
    expect(namedSecrets(registry)).to.deep.equal(['mlflow-token']);
  });

  it('counts a runtime image other than the operator\'s own, and nothing for a plain ModelDeployment', () => {
    expect(authorGrants(modelDeployment(), 'runtime:1')).to.deep.equal([]);
    expect(authorGrants(modelDeployment({ runtime: { image: 'runtime:1' } }), 'runtime:1')).to.deep.equal([]);
    expect(authorGrants(modelDeployment({ runtime: { image: 'mine:2' }, security: { authSecret: { name: 't' } } }), 'runtime:1')).to.deep.equal(['Secret t', 'runtime image mine:2']);
  });

  it('lists the same fields as the chart\'s admission policy', async () => {
    const helpers = await readFile(join(CHART, 'templates', '_helpers.tpl'), 'utf8');
    const cel = /define "modelship.namedSecrets" -\}\}\n([\s\S]*?)\{\{- end/.exec(helpers)?.[1] ?? '';
    const terms = cel.split('\n+ ').map((term) => term.trim());
    expect(terms).to.have.length(SECRET_NAMING_FIELDS.length);
    SECRET_NAMING_FIELDS.forEach((field, i) => {
      const [list, item] = field.split('[].');
      const expected = item ? [`R.${list}.filter(`, `e.${item}`] : [`[R.${field}]`];
      for (const text of expected) expect(terms[i], field).to.include(text);
    });
  });
});
