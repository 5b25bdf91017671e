/**
 * CHAP secrets reach only callers who must log in with them (issue 23, deliver 7). Cinder answers
 * `connection_info` with `auth_password` to anyone its policy lets read an attachment — a
 * `reader` included. Hitch gives the secrets to admins only: its compute service calls the block
 * storage in process, or over REST as `blockStorageUser` (an admin, as Nova's service user is), so
 * no attach needs a project member to see them. Everyone else gets the connection_info without
 * its password fields (`auth_method` still says CHAP is in use).
 */

/** The fields of a connection's `data` that are secrets: os-brick's CHAP and discovery CHAP passwords. */
const SECRET_FIELDS = /^(auth_password|discovery_auth_password|.*_secret)$/;

/** `info` as `caller` may see it: whole for an admin, without its secret fields for anyone else. */
export function connectionInfoFor(info: unknown, caller: { readonly isAdmin: boolean }): unknown {
  if (caller.isAdmin || typeof info !== 'object' || info === null) return info;
  const data = (info as { data?: unknown }).data;
  if (typeof data !== 'object' || data === null) return info;
  return { ...info, data: Object.fromEntries(Object.entries(data).filter(([k]) => !SECRET_FIELDS.test(k))) };
}
