import { expect } from 'chai';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { LeaseHealth } from '../../../operator/controller/lease-health.ts';
import { describeLeaseFailure } from '../../../operator/controller/lease-problem.ts';
import { ApiError } from '../../../operator/kube/rest-client.ts';

const lease = { namespace: 'modelship-system', name: 'modelship-operator' };
// What the apiserver answers to creating a Lease in a namespace that does not exist, and to a ServiceAccount without the Role.
const namespaceMissing = () => new ApiError(404, 'NotFound', 'namespaces "modelship-system" not found', { kind: 'namespaces', name: 'modelship-system' });
const forbidden = () => new ApiError(403, 'Forbidden',
  'leases.coordination.k8s.io "modelship-operator" is forbidden: User "system:serviceaccount:x:y" cannot get resource "leases" in API group "coordination.k8s.io" in the namespace "modelship-system"',
  { kind: 'leases', name: 'modelship-operator' });

function recordingLogger() {
  const lines: { level: number; msg: string; [key: string]: unknown }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as (typeof lines)[number]);
      done();
    },
  });
  return { log: pino({ level: 'info' }, stream), lines };
}

describe('leader-election Lease problems', () => {
  it('says a missing namespace is missing, and both ways out: create it or set the variable', () => {
    const { reason, message } = describeLeaseFailure(namespaceMissing(), lease);
    expect(reason).to.equal('NamespaceNotFound');
    expect(message).to.include('namespace "modelship-system" does not exist')
      .and.include('kubectl create namespace modelship-system')
      .and.include('MODELSHIP_LEADER_ELECTION_NAMESPACE').and.include('POD_NAMESPACE');
  });

  it('says a forbidden Lease needs access to leases in that namespace, with the apiserver\'s words', () => {
    const { reason, message } = describeLeaseFailure(forbidden(), lease);
    expect(reason).to.equal('Forbidden');
    expect(message).to.include('cannot get resource "leases"')
      .and.include('get, create and update on leases.coordination.k8s.io in namespace "modelship-system"')
      .and.include('MODELSHIP_LEADER_ELECTION_NAMESPACE');
  });

  it('does not mistake a missing Lease for a missing namespace', () => {
    const leaseMissing = new ApiError(404, 'NotFound', 'leases.coordination.k8s.io "x" not found', { kind: 'leases', name: 'x' });
    expect(describeLeaseFailure(leaseMissing, lease).reason).to.equal('NotFound');
  });

  it('names the socket error when the apiserver cannot be reached', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6443'), { code: 'ECONNREFUSED' });
    expect(describeLeaseFailure(refused, lease)).to.deep.equal({
      reason: 'ECONNREFUSED',
      message: 'cannot acquire the leader-election Lease modelship-system/modelship-operator: connect ECONNREFUSED 127.0.0.1:6443',
    });
  });
});

describe('LeaseHealth', () => {
  it('is not ready before the first attempt reaches the Lease', () => {
    const health = new LeaseHealth(lease, recordingLogger().log);
    expect(health.problem?.message).to.include('acquiring the leader-election Lease modelship-system/modelship-operator');
  });

  it('logs a lasting problem as an error at once, then again after 5 s, 10 s, 20 s ... while attempts fail every 1 s', () => {
    let now = 0;
    const { log, lines } = recordingLogger();
    const health = new LeaseHealth(lease, log, { now: () => now });
    const loggedAt: number[] = [];
    for (now = 0; now <= 40_000; now += 1_000) {
      const before = lines.length;
      health.failed(namespaceMissing());
      if (lines.length > before) loggedAt.push(now);
    }
    expect(loggedAt).to.deep.equal([0, 5_000, 15_000, 35_000]);
    expect(lines.every((line) => line.level === 50 && line.msg.includes('does not exist')), JSON.stringify(lines[0])).to.equal(true);
    expect(lines.at(-1)).to.include({ lease: 'modelship-system/modelship-operator', reason: 'NamespaceNotFound', attempts: 36 });
    expect(health.problem?.reason).to.equal('NamespaceNotFound');
  });

  it('logs a different problem at once: the namespace was created but the Role is missing', () => {
    let now = 0;
    const { log, lines } = recordingLogger();
    const health = new LeaseHealth(lease, log, { now: () => now });
    health.failed(namespaceMissing());
    now = 1_000;
    health.failed(forbidden());
    expect(lines.map((line) => line.reason)).to.deep.equal(['NamespaceNotFound', 'Forbidden']);
    expect(health.problem?.reason).to.equal('Forbidden');
  });

  it('is ready once an attempt reaches the Lease, says so once, and starts over on the next problem', () => {
    let now = 0;
    const { log, lines } = recordingLogger();
    const health = new LeaseHealth(lease, log, { now: () => now });
    health.failed(forbidden());
    health.reached();
    expect(health.problem).to.equal(undefined);
    expect(lines.at(-1)).to.include({ level: 30, msg: 'leader-election Lease reachable again', failedAttempts: 1 });
    health.reached();
    expect(lines, 'no second recovery line').to.have.length(2);
    now = 1_000;
    health.failed(forbidden());
    expect(lines.at(-1)).to.include({ level: 50, reason: 'Forbidden', attempts: 1 });
  });
});
