/**
 * libvirt secrets for QEMU-native iSCSI CHAP. The secret's UUID is derived from its usage id,
 * so defining it again after a crash updates the same secret instead of failing with "a secret
 * with UUID … is already defined for use with …", and removing it needs only the usage id.
 */
import { createHash } from 'node:crypto';
import { checkSecretUsage, xmlEscape } from './xml-values.ts';

/** A name-based UUID (RFC 4122 version 5 layout over SHA-256) for a secret usage id. */
export function secretUuidForUsage(usage: string): string {
  checkSecretUsage(usage);
  const h = createHash('sha256').update(`hitch-iscsi-secret:${usage}`).digest();
  h[6] = ((h[6] ?? 0) & 0x0f) | 0x50;
  h[8] = ((h[8] ?? 0) & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

/**
 * The `<secret>` document for `virsh secret-define`: persistent (`ephemeral="no"`, so domains that
 * reference it survive a libvirtd restart) and private (its value can never be read back).
 */
export function buildSecretXml(usage: string): string {
  checkSecretUsage(usage);
  return [
    '<secret ephemeral="no" private="yes">',
    `  <uuid>${secretUuidForUsage(usage)}</uuid>`,
    `  <description>Hitch iSCSI CHAP secret ${xmlEscape(usage)}</description>`,
    '  <usage type="iscsi">',
    `    <target>${xmlEscape(usage)}</target>`,
    '  </usage>',
    '</secret>',
  ].join('\n');
}
