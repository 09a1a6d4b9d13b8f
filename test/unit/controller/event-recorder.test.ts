import type { KubernetesObject } from '@kubernetes/client-node';
import { expect } from 'chai';
import { pino } from 'pino';
import { EventRecorder } from '../../../operator/controller/event-recorder.ts';

const md = { apiVersion: 'modelship.io/v1alpha1', kind: 'ModelDeployment', metadata: { name: 'fraud', namespace: 'shop', uid: 'u1' } };
const event = (reason: string) => ({ type: 'Normal' as const, reason, message: `${reason} happened` });

/** An apiserver whose Event creates complete only when the test lets them. */
function slowApiserver() {
  const written: string[] = [];
  const waiting: (() => void)[] = [];
  let inFlight = 0;
  let mostInFlight = 0;
  const client = {
    async create<T extends KubernetesObject>(_type: unknown, body: T): Promise<T> {
      inFlight++;
      mostInFlight = Math.max(mostInFlight, inFlight);
      await new Promise<void>((resolve) => waiting.push(resolve));
      inFlight--;
      written.push((body as unknown as { reason: string }).reason);
      return body;
    },
  };
  const releaseAll = async () => {
    while (waiting.length > 0) {
      for (const resolve of waiting.splice(0)) resolve();
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  return { client, written, releaseAll, mostInFlight: () => mostInFlight };
}

describe('Event recorder (Events written in the background)', () => {
  it('returns before the apiserver answers, writes every Event in order of recording, and flush waits for the last', async () => {
    const apiserver = slowApiserver();
    const recorder = new EventRecorder(apiserver.client, 'operator-0', pino({ level: 'silent' }));
    for (const reason of ['RevisionCreated', 'CanaryStep', 'Ready']) recorder.record(md, event(reason));
    expect(apiserver.written, 'nothing written yet: record did not wait').to.deep.equal([]);
    let flushed = false;
    const flushing = recorder.flush().then(() => (flushed = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(flushed).to.equal(false);
    await apiserver.releaseAll();
    await flushing;
    expect(apiserver.written).to.deep.equal(['RevisionCreated', 'CanaryStep', 'Ready']);
    expect(apiserver.mostInFlight(), 'a few at a time, not one request per Event at once').to.be.at.most(2);
  });

  it('drops Events beyond the queue limit instead of holding reconciles, and says so', async () => {
    const apiserver = slowApiserver();
    const lines: { msg: string; dropped?: number }[] = [];
    const log = pino({ level: 'warn' }, { write: (line: string) => lines.push(JSON.parse(line) as { msg: string }) });
    const recorder = new EventRecorder(apiserver.client, 'operator-0', log);
    for (let i = 0; i < 1_010; i++) recorder.record(md, event(`E${i}`));
    await apiserver.releaseAll();
    await recorder.flush();
    expect(apiserver.written).to.have.length(1_002);
    expect(lines.map((line) => line.msg)).to.include('too many Events waiting to be written: dropping new ones until the queue drains');
    expect(lines.find((line) => line.dropped !== undefined)?.dropped).to.equal(8);
  });
});
