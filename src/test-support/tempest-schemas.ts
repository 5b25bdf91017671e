/**
 * Check API answers against the strict response schemas of OpenStack's own integration suite
 * (Debian's python3-tempest, `tempest/lib/api_schema/response/…`), with tempest's validator:
 * its JSON-schema draft, its format checker and its status-code check — the same call tempest's
 * REST client makes on every answer it gets from a real cloud.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';

const PYTHON = '/usr/bin/python3';
const TEMPEST = '/usr/lib/python3/dist-packages/tempest/lib/api_schema/response/compute/__init__.py';

/** One answer to check: `schema` is `compute.<version module>.<file>.<name>`, e.g. `v2_61.flavors.list_flavors_details`. */
export interface SchemaCheck {
  readonly schema: string;
  readonly status: number;
  readonly body: unknown;
}

export function tempestMissing(): boolean {
  return !existsSync(PYTHON) || !existsSync(TEMPEST);
}

const SCRIPT = `
import importlib, json, sys
from tempest.lib.common.rest_client import RestClient
out = []
for c in json.load(sys.stdin):
    mod, name = c['schema'].rsplit('.', 1)
    schema = getattr(importlib.import_module('tempest.lib.api_schema.response.' + mod), name)
    resp = type('Resp', (), {'status': c['status']})()
    try:
        RestClient.validate_response(schema, resp, c['body'])
        out.append(None)
    except Exception as e:
        out.append('%s: %s' % (type(e).__name__, str(e)[:2000]))
print(json.dumps(out))
`;

/** The problems tempest finds, one entry per check: null when the answer passes. */
export function checkSchemas(checks: readonly SchemaCheck[]): Promise<Array<string | null>> {
  return new Promise((resolve, reject) => {
    const child = execFile(PYTHON, ['-c', SCRIPT], { timeout: 120_000, maxBuffer: 16 << 20, env: { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8', PYTHONWARNINGS: 'ignore' } }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`tempest schema check failed: ${String(stderr).slice(0, 2000) || err.message}`));
      resolve(JSON.parse(String(stdout)) as Array<string | null>);
    });
    child.stdin?.end(JSON.stringify(checks));
  });
}
