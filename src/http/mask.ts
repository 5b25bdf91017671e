/**
 * How secrets appear in logs: a token is shown as `{SHA1}<sha1 hex>`, exactly as
 * keystoneauth's debug lines in the seed do, so two log lines about the same token can be
 * matched without either revealing it.
 */
import { createHash } from 'node:crypto';

export function maskToken(token: string): string {
  return `{SHA1}${createHash('sha1').update(token).digest('hex')}`;
}
