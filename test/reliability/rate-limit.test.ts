/**
 * Issue 23, defect 4 (one tenant can slow every other): per-project and per-user request rates.
 * Past its budget a project's request is answered 429 `overLimit` with `Retry-After` (and
 * `retryAfter` in the body), before the route runs; another project's requests, and the admin's,
 * go on. Before, nothing limited a project: every request of the flood was served.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RequestRateLimiter } from '../../src/http/request-rate-limit.ts';
import { startTestCloud, type TestCloud } from '../support/cloud.ts';

describe('the token buckets', () => {
  it('admit the burst, then the rate; a refused request costs nothing; admins are not counted', async () => {
    let now = 0;
    const held: number[] = [];
    const l = new RequestRateLimiter({ projectPerSecond: 2, projectBurst: 3, userPerSecond: 0, userBurst: 0 }, { now: () => now, hold: async (ms) => void held.push(ms) });
    const a = { userId: 'u1', projectId: 'pa', isAdmin: false };
    for (let i = 0; i < 3; i++) await l.admit(a);
    await expect(l.admit(a)).rejects.toMatchObject({ code: 'HITCH_RATE_LIMITED', status: 429, details: { retryAfter: 1 } });
    // Answered after its Retry-After, not at once.
    expect(held).toEqual([1000]);
    // Another project, and an admin, are not touched by pa's flood.
    await l.admit({ userId: 'u2', projectId: 'pb', isAdmin: false });
    for (let i = 0; i < 10; i++) await l.admit({ userId: 'admin', projectId: 'pa', isAdmin: true });
    now += 500; // one request's worth at 2/s
    await l.admit(a);
    await expect(l.admit(a)).rejects.toMatchObject({ code: 'HITCH_RATE_LIMITED' });
  });

  it('a user is limited across projects', async () => {
    const l = new RequestRateLimiter({ projectPerSecond: 0, projectBurst: 0, userPerSecond: 1, userBurst: 2 }, { now: () => 0, hold: async () => undefined });
    await l.admit({ userId: 'u1', projectId: 'pa', isAdmin: false });
    await l.admit({ userId: 'u1', projectId: 'pb', isAdmin: false });
    await expect(l.admit({ userId: 'u1', projectId: 'pc', isAdmin: false })).rejects.toMatchObject({ code: 'HITCH_RATE_LIMITED' });
    await l.admit({ userId: 'u2', projectId: 'pa', isAdmin: false });
  });
});

describe('per-project rate limit through the APIs (config projectRateLimit)', () => {
  let t: TestCloud;
  beforeAll(async () => {
    t = await startTestCloud({ projectRateLimit: 1, projectRateBurst: 4 });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('past its burst a project gets 429 overLimit with Retry-After; the admin project is still served', async () => {
    const { token, projectId } = await t.token('demo');
    const statuses: number[] = [];
    let limited: Awaited<ReturnType<TestCloud['api']>> | undefined;
    for (let i = 0; i < 8; i++) {
      const r = await t.api('GET', i % 2 ? `/volume/v3/${projectId}/volumes` : '/compute/v2.1/servers', { token });
      statuses.push(r.status);
      if (r.status === 429) limited ??= r;
    }
    // A burst of 4, then one a second: the fifth is refused, answered a second later (so the next
    // one may pass); no more than one in two from then on.
    expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 429]);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(2);
    expect(Number(limited?.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(limited?.body.overLimit).toMatchObject({ code: 429, retryAfter: '1' });
    expect(limited?.body.overLimit.message).toMatch(/^Too many requests; retry after 1 s/);
    const admin = await t.token('admin');
    for (let i = 0; i < 6; i++) expect((await t.api('GET', `/volume/v3/${admin.projectId}/volumes`, { token: admin.token })).status).toBe(200);
  });
});
