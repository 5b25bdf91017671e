/**
 * Secret masking for every line that leaves a Host call: logs, traces, errors.
 *
 * Secrets are masked two ways: by value (the caller names them in `ExecOptions.secrets`, as
 * os-brick does for CHAP passwords) and by shape (the value after a known secret key, e.g.
 * `-n node.session.auth.password -v SECRET` or `X-Auth-Token: …`), so a caller that forgets
 * to declare one still does not leak it.
 */

export const MASK = '***';

/** iscsiadm settings whose value (`-v X`) is a secret. */
const SECRET_SETTINGS = /^(node\.session\.auth\.password(_in)?|discovery\.sendtargets\.auth\.password(_in)?|node\.session\.auth\.password_in)$/;

/** Header or key names whose value is a secret. */
const SECRET_KEYS = /(password|passwd|secret|token|auth_password|chap)/i;

/** Mask declared secret values in a free text. Longer secrets first, so overlaps mask whole. */
export function maskText(text: string, secrets: readonly string[] = []): string {
  let out = text;
  const sorted = [...secrets].filter((s) => s.length > 0).sort((a, b) => b.length - a.length);
  for (const s of sorted) out = out.split(s).join(MASK);
  // Shapes that are secret whoever wrote them.
  out = out.replace(/(X-Auth-Token|X-Subject-Token):\s*(?!\{SHA1\})(\S+)/gi, (_m, h: string) => `${h}: ${MASK}`);
  out = out.replace(/(node\.session\.auth\.password(?:_in)?\s*=\s*)(\S+)/g, (_m, k: string) => `${k}${MASK}`);
  return out;
}

/** Mask an argument vector: declared secrets, and the value following a secret iscsiadm setting. */
export function maskArgs(args: readonly string[], secrets: readonly string[] = []): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? '';
    const prevName = i >= 2 && args[i - 1] === '-v' ? args[i - 2] : undefined;
    if (prevName !== undefined && SECRET_SETTINGS.test(prevName)) {
      out.push(MASK);
    } else {
      out.push(maskText(a, secrets));
    }
  }
  return out;
}

/** Mask the values of secret-looking keys in a structured value (for logging objects). */
export function maskObject<T>(value: T, secrets: readonly string[] = []): T {
  if (typeof value === 'string') return maskText(value, secrets) as T;
  if (Array.isArray(value)) return value.map((v) => maskObject(v, secrets)) as T;
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      out[k] = SECRET_KEYS.test(k) && (typeof v === 'string' || typeof v === 'number') ? MASK : maskObject(v, secrets);
    }
    return out as T;
  }
  return value;
}

/** Render a command line for logs: `iscsiadm -m node -T iqn… --login`, secrets masked. */
export function renderCommand(cmd: string, args: readonly string[], secrets: readonly string[] = []): string {
  return [cmd, ...maskArgs(args, secrets)].join(' ');
}
