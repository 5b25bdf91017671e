/**
 * The image service's read side, Glance v2 style, for the one image Hitch boots (the tiny
 * guest): `openstack server create --image hitch-tiny` resolves the name through it.
 * Register at `/image/v2`.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { IMAGES } from '../compute/images.ts';
import { HitchError } from '../errors.ts';
import { installOpenStackHttp } from '../http/openstack-http.ts';
import type { Authenticator } from '../identity/identity-service.ts';

export interface ImagesPluginOptions {
  readonly identity: Authenticator;
}

function view(i: (typeof IMAGES)[number]) {
  return {
    id: i.id,
    name: i.name,
    status: 'active',
    visibility: 'public',
    protected: false,
    disk_format: i.disk_format,
    container_format: i.container_format,
    size: i.size,
    min_disk: 0,
    min_ram: 0,
    tags: [],
    created_at: '2026-01-01T00:00:00Z',
    updated_at: '2026-01-01T00:00:00Z',
    self: `/v2/images/${i.id}`,
    file: `/v2/images/${i.id}/file`,
    schema: '/v2/schemas/image',
  };
}

export async function imagesPlugin(app: FastifyInstance, opts: ImagesPluginOptions): Promise<void> {
  installOpenStackHttp(app, { requestIdHeaders: ['x-openstack-request-id'], errorStyle: 'fault' });
  const auth = (req: FastifyRequest) => {
    const t = req.headers['x-auth-token'];
    return opts.identity.authenticate(Array.isArray(t) ? t[0] : t);
  };
  app.get('/images', async (req) => {
    await auth(req);
    const q = req.query as Record<string, string | undefined>;
    const list = IMAGES.filter((i) => (q['name'] === undefined || i.name === q['name']) && (q['id'] === undefined || i.id === q['id']));
    return { images: list.map(view), schema: '/v2/schemas/images', first: '/v2/images' };
  });
  app.get<{ Params: { id: string } }>('/images/:id', async (req) => {
    await auth(req);
    const i = IMAGES.find((x) => x.id === req.params.id);
    if (!i) throw new HitchError('HITCH_NOT_FOUND', { kind: 'Image', id: req.params.id }, { message: `No image found with ID ${req.params.id}` });
    return view(i);
  });
}
