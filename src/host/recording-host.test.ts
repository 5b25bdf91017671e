import { describe, expect, it } from 'vitest';
import { createSimHost } from '../sim/sim-host.ts';
import { ScriptedHost } from '../test-support/scripted-host.ts';
import { isHitchError } from '../errors.ts';
import { RecordingHost } from './recording-host.ts';

describe('RecordingHost TCP probe', () => {
  it('passes the probe through and records it in order with its outcome', async () => {
    const sim = createSimHost('healthy-single');
    sim.sim.injectFault({ fault: 'portal-refusing', portal: '192.0.2.11:3260' });
    const host = new RecordingHost(sim);
    expect(host.capabilities.tcpProbe).toBe(true);
    await host.exists('/dev/vda');
    expect((await host.probeTcp('192.0.2.10', 3260, { timeoutMs: 1_000 })).outcome).toBe('open');
    expect((await host.probeTcp('192.0.2.11', 3260, { timeoutMs: 1_000 })).outcome).toBe('refused');
    expect(host.calls.map((c) => c.op)).toEqual(['exists', 'probeTcp', 'probeTcp']);
    expect(host.probes()).toEqual(['192.0.2.10:3260 open', '192.0.2.11:3260 refused']);
  });

  it('records a probe the inner host refused, with no outcome', async () => {
    const host = new RecordingHost(new ScriptedHost([]));
    expect(host.capabilities.tcpProbe).toBe(false);
    await expect(host.probeTcp('192.0.2.10', 3260, { timeoutMs: 1_000 })).rejects.toSatisfy((e: unknown) => isHitchError(e, 'HITCH_INTERNAL'));
    expect(host.probes()).toEqual(['192.0.2.10:3260 null']);
  });
});
