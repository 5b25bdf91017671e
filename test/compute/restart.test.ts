/**
 * A restart of the all-in-one server on the same data directory: the database keeps volumes
 * and servers, while the in-process simulated world starts empty. The next attach must still
 * work (the README's walkthrough runs across restarts): the array gets the volume's target and
 * LUN back with its WWN, the hypervisor gets the ACTIVE servers' domains back.
 */
import { describe, expect, it } from 'vitest';
import { createCloud } from '../../src/server/cloud.ts';
import { ADMIN_PASSWORD, DEMO_PASSWORD, startTestCloud, volumeAndServer } from '../support/cloud.ts';

describe('a restart of the all-in-one server', () => {
  it('attaches a volume created before the restart to a server created before it', async () => {
    const t = await startTestCloud({ scenario: 'healthy-multipath' });
    const { token, volumeId, serverId } = await volumeAndServer(t);
    await t.cloud.app.close();
    await t.cloud.close();
    const again = await createCloud({ config: t.config, credentials: { adminPassword: ADMIN_PASSWORD, demoPassword: DEMO_PASSWORD } });
    try {
      const ctx = await again.identity.authenticate(token);
      await (await again.compute.attachVolume(ctx, serverId, volumeId, null, 'req-restart')).done;
      await again.settle();
      const vol = await again.volumes.get({ userId: 'x', projectId: 'x', isAdmin: true }, volumeId);
      expect(vol.status).toBe('in-use');
      const op = (await again.computeRepository.listOperations(serverId, volumeId))[0];
      expect(op?.state).toBe('done');
    } finally {
      await again.close();
    }
  });
});
