/**
 * What the all-in-one server shows people beside the OpenStack APIs: `/healthz` (and, as the
 * product grows, `/metrics` and the dashboard at `/`). Kept apart from the service wiring in
 * `cloud.ts` so the faces can change without touching the composition.
 */
import type { FastifyInstance } from 'fastify';
import type { Cloud } from './cloud.ts';

export type CloudParts = Omit<Cloud, 'app' | 'settle' | 'close'>;

export async function registerFaces(app: FastifyInstance, _cloud: CloudParts): Promise<void> {
  app.get('/healthz', async () => ({ status: 'ok' }));
}
