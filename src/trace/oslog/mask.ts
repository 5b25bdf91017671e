/**
 * Secrets in OpenStack logs, masked before anything else reads a line. Real logs carry them:
 * Cinder returns CHAP credentials in `connection_info` and older keystoneauth logged the response
 * body whole; a token leaks when a client logs a header it did not know to hide; a transport URL
 * carries the broker's password. The shapes follow oslo.utils' `strutils.mask_password` (the
 * same keys, quoted, `key=value`, `'key', '-v', 'value'`) plus headers and URL credentials, so
 * a line masked by OpenStack itself stays as it was.
 *
 *   'auth_password': 'V3ryS3cret'            → 'auth_password': '***'
 *   -n node.session.auth.password -v hunter2 → -n node.session.auth.password -v ***
 *   -H "X-Auth-Token: gAAAAAB…"              → -H "X-Auth-Token: ***"
 *   rabbit://openstack:Welcome1234@10.0.0.1  → rabbit://openstack:***@10.0.0.1
 *
 * A `{SHA1}…`/`{SHA256}…` token fingerprint is a hash, not the token, and is kept.
 */

/** The mask, as Hitch's own logs and os-brick write it (the dashboard bundles this file: no Node module here). */
const MASK = '***';

const KEYS = [
  'adminpass', 'admin_pass', 'password', 'admin_password', 'auth_token', 'new_pass', 'auth_password', 'secret_uuid',
  'secret', 'sys_pswd', 'token', 'configdrive', 'chappassword', 'encrypted_key', 'private_key', 'fernetkey', 'sslkey',
  'passphrase', 'passwd', 'credential',
];
const KEY = `(?:${KEYS.join('|')})`;
// A cheap first test: most lines hold none of these words.
const HINT = /pass|secret|token|key|cred|pswd|configdrive|authorization|:\/\/[^\s/]*:[^\s/]*@/i;

const PATTERNS: readonly [RegExp, string][] = [
  // 'auth_password': 'x' / "discovery_auth_password": u"x" (key names containing a secret word);
  // a cut line may end before the closing quote
  [new RegExp(`(['"][^'"\\s]*${KEY}[0-9]*['"]\\s*:\\s*u?['"])[^'"]*(['"]|$)`, 'gim'), `$1${MASK}$2`],
  // ('-n', 'node.session.auth.password', '-v', 'x') — os-brick's argument tuples
  [new RegExp(`(['"][^'"]*${KEY}[0-9]*['"]\\s*,\\s*u?'--?[A-Za-z]+'\\s*,\\s*u?['"])[^'"]*(['"]|$)`, 'gim'), `$1${MASK}$2`],
  // node.session.auth.password -v x / --password x (command lines)
  [new RegExp(`(${KEY}[0-9]*(?:_in)?\\s+--?[A-Za-z]+\\s+)(?!\\*\\*\\*)[^\\s'"]+`, 'gi'), `$1${MASK}`],
  [new RegExp(`(--[\\w-]*${KEY}[0-9]*[ =])(?!\\*\\*\\*)[^\\s'"]+`, 'gi'), `$1${MASK}`],
  // key = "x" / key='x' / key=x
  [new RegExp(`(${KEY}[0-9]*\\s*=\\s*["'])[^"']*(["']|$)`, 'gim'), `$1${MASK}$2`],
  [new RegExp(`(${KEY}[0-9]*\\s*=\\s*)(?!\\*\\*\\*)[^\\s'"&,;)}\\]]+`, 'gi'), `$1${MASK}`],
  // <password>x</password>
  [new RegExp(`(<${KEY}[0-9]*>)[^<]*(</${KEY}[0-9]*>)`, 'gi'), `$1${MASK}$2`],
  // X-Auth-Token: x / Authorization: Bearer x — but not a {SHA1}/{SHA256} fingerprint
  [/((?:X-Auth-Token|X-Subject-Token|X-Service-Token|X-Auth-Key)["']?\s*[:=]\s*["']?)(?!\{SHA)(?!\*\*\*)[^\s"',}]+/gi, `$1${MASK}`],
  [/(Authorization["']?\s*[:=]\s*["']?(?:Bearer |Basic |Token )?)(?!\{SHA)(?!\*\*\*)[^\s"',}]+/gi, `$1${MASK}`],
  // scheme://user:password@host
  [/(\b[a-z][\w+.-]*:\/\/[^\s:/@'"]+:)(?!\*\*\*@)[^\s@/'"]+(@)/gi, `$1${MASK}$2`],
];

/** The line with every secret-shaped value replaced by `***`. */
export function maskLogText(text: string): string {
  if (!HINT.test(text)) return text;
  let out = text;
  for (const [re, rep] of PATTERNS) out = out.replace(re, rep);
  return out;
}
