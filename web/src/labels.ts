/**
 * Labels that fit without lying: a long name is shortened in the middle (`volume-…-prod-03`), so
 * the ends that tell similar names apart stay visible, and the whole text is always on hover.
 */

/** `text` in at most `max` characters, the middle replaced by `…`. */
export function middleEllipsis(text: string, max: number): string {
  if (text.length <= max || max < 5) return text;
  const keep = max - 1;
  const head = Math.ceil(keep / 2);
  return `${text.slice(0, head)}…${text.slice(text.length - (keep - head))}`;
}

/** The first block of a UUID (`0b6b3c9e`): enough to tell rows apart; the full id is on hover and on the detail page. */
export const shortId = (id: string): string => id.split('-')[0] ?? id;

/** `2026-01-05 14:03:27 UTC` from an ISO timestamp (OpenStack's, with or without a zone). */
export function when(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(iso) ? iso : `${iso}Z`);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}
