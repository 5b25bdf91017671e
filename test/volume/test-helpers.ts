/** Shared helpers for the block storage tests: tokens and requests against an injected app. */
import type { HitchTestApp } from '../../src/test-support/build-app.ts';
import { ADMIN_PASSWORD, DEMO_PASSWORD } from '../../src/test-support/build-app.ts';

export async function token(t: HitchTestApp, user: 'admin' | 'demo' = 'admin'): Promise<{ token: string; projectId: string }> {
  const password = user === 'admin' ? ADMIN_PASSWORD : DEMO_PASSWORD;
  const r = await t.app.inject({
    method: 'POST',
    url: '/identity/v3/auth/tokens',
    payload: { auth: { identity: { methods: ['password'], password: { user: { name: user, domain: { id: 'default' }, password } } }, scope: { project: { name: user, domain: { id: 'default' } } } } },
  });
  if (r.statusCode !== 201) throw new Error(`auth failed: ${r.statusCode} ${r.body}`);
  const body = r.json<{ token: { project: { id: string } } }>();
  return { token: String(r.headers['x-subject-token']), projectId: body.token.project.id };
}

export function headers(tok: string, version = '3.70'): Record<string, string> {
  return { 'x-auth-token': tok, 'openstack-api-version': `volume ${version}` };
}
