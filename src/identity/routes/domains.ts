/** `/v3/domains`: Hitch has Keystone's `default` domain (named `Default`) and no other. */
import { DEFAULT_DOMAIN } from '../identity-store.ts';
import { collectionLinks, domainView } from '../views.ts';
import { keystoneNotFound, queryBool, queryParam, selfLink, type IdentityRoutes } from './context.ts';

export function registerDomainRoutes(r: IdentityRoutes): void {
  const { app } = r;

  app.get('/v3/domains', async (req) => {
    await r.caller(req);
    const name = queryParam(req, 'name');
    const enabled = queryBool(req, 'enabled');
    const matches = (name === undefined || name === DEFAULT_DOMAIN.name) && enabled !== false;
    return { domains: matches ? [domainView(r.identityUrl(req))] : [], links: collectionLinks(selfLink(r, req)) };
  });

  app.get<{ Params: { id: string } }>('/v3/domains/:id', async (req) => {
    await r.caller(req);
    if (req.params.id !== DEFAULT_DOMAIN.id) throw keystoneNotFound('domain', req.params.id);
    return { domain: domainView(r.identityUrl(req)) };
  });
}
