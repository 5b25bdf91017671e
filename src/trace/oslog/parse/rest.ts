/**
 * REST calls as the client logs them: keystoneauth1's session (what Nova's cinder API wrapper
 * uses since Mitaka) and cinderclient's own logger before it. Only the request has a method
 * and URL; the response follows in the same request context, in order; keystoneauth then names
 * the server's request id, which ties the call to cinder-api's and cinder-volume's lines.
 *
 *   REQ: curl -g -i -X POST http://172.16.1.11:8776/v2/ca2fbd57936b45bf9abdb536dc152a6d/volumes/5ed0cc5c-158c-4857-9bd5-3556884a23f0/action -H "User-Agent: python-cinderclient" -H "Content-Type: application/json" -H "Accept: application/json" -H "X-Auth-Token: {SHA1}e36480f1c9d79821db2a9ad7a4245db35a3529f8" -d '{"os-initialize_connection": {"connector": {…}}}'
 *   RESP: [200] Content-Length: 1183 Content-Type: application/json Date: Tue, 10 Jul 2018 02:07:38 GMT x-openstack-request-id: req-54e14a81-475d-4f74-bdf4-bd3ec3210955
 *   RESP BODY: {"connection_info": {…}}
 *   POST call to volumev3 for http://172.16.1.12/volume/v3/fed60db2…/attachments used request id req-54e14a81-475d-4f74-bdf4-bd3ec3210955
 * cinderclient's own HTTPClient, before sessions (`\nREQ: curl -i URL -X METHOD-H '…'`, and the
 * response's headers as a dict: `RESP: [200] {'x-openstack-request-id': 'req-…', …}`) is read too.
 * With keystoneauth's split loggers the prefixes go and the logger says it
 * (`keystoneauth.session.request`: `curl -g -i -X GET …`, `keystoneauth.session.response`: `[200] …`).
 */
import type { LogEvent } from '../events.ts';

const REQ = /^(?:REQ: )?curl -g -i(?: --insecure| --cacert "[^"]*")? -X (\w+) "?(\S+?)"?(?: -H .*?)?(?: -d '(.*)')?$/s;
// cinderclient's own HTTPClient (no keystoneauth session): the URL first, the headers glued on.
const REQ_OLD = /^(?:REQ: )?curl -i (\S+) -X (GET|POST|PUT|DELETE)(?:-H .*?)?(?: -d '(.*)')?$/s;
const RESP = /^(?:RESP: )?\[(\d{3})\](.*)$/s;
const REQUEST_ID = /^(\w+) call to (?:\S+ for )?(\S+) used request id (req-[0-9a-f-]{36})$/;
// `x-openstack-request-id: req-…` (keystoneauth) or `'x-openstack-request-id': 'req-…'` (a headers dict).
const RESP_REQ_ID = /x-(?:openstack|compute)-request-id['"]?:\s*['"]?(req-[0-9a-f-]{36})/i;

export function parseRest(message: string, logger: string): LogEvent[] {
  const msg = message.startsWith('\n') ? message.trim() : message;
  const c = msg.charCodeAt(0);
  let m: RegExpExecArray | null;
  if (c === 82 /* R */ || c === 99 /* c */) {
    if (c === 99 && !logger.endsWith('.request')) return [];
    const req = REQ.exec(msg);
    const old = req ? null : REQ_OLD.exec(msg);
    if (req || old) {
      const body = (req ? req[3] : old?.[3]) ?? '';
      const action = /^\{\s*"([\w-]+)"/.exec(body)?.[1] ?? null;
      return [{ kind: 'rest.req', method: (req ? req[1] : old?.[2]) ?? '', url: (req ? req[2] : old?.[1]) ?? '', action }];
    }
    if (msg.startsWith('RESP BODY')) return [];
    if (msg.startsWith('RESP: ') && (m = RESP.exec(msg))) {
      return [{ kind: 'rest.resp', status: Number(m[1]), requestId: RESP_REQ_ID.exec(m[2] ?? '')?.[1] ?? null }];
    }
    return [];
  }
  if (c === 91 /* [ */ && logger.endsWith('.response') && (m = RESP.exec(msg))) {
    return [{ kind: 'rest.resp', status: Number(m[1]), requestId: RESP_REQ_ID.exec(m[2] ?? '')?.[1] ?? null }];
  }
  if ((m = REQUEST_ID.exec(msg))) return [{ kind: 'rest.request-id', method: m[1] ?? '', url: m[2] ?? '', requestId: m[3] ?? '' }];
  return [];
}

/** `/v2/ca2fbd…/volumes/5ed0cc5c-…/action` → `/v2/{project_id}/volumes/{id}/action`. */
export function templatePath(url: string): string {
  let path = url.replace(/^[a-z]+:\/\/[^/]+/i, '').replace(/\?.*$/, '');
  path = path.replace(/\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?=\/|$)/gi, '/{id}');
  path = path.replace(/\/(v[23](?:\.\d+)?)\/[0-9a-f]{32}(?=\/|$)/i, '/$1/{project_id}');
  return path;
}

/** The volume or attachment id a URL is about, and what kind of thing it is. */
export function urlSubject(url: string): { kind: 'volumes' | 'attachments' | 'other'; id: string | null } {
  const m = /\/(volumes|attachments)\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/i.exec(url);
  if (!m) return { kind: /\/attachments(?:\?|$)/.test(url) ? 'attachments' : 'other', id: null };
  return { kind: m[1] === 'attachments' ? 'attachments' : 'volumes', id: m[2] ?? null };
}
