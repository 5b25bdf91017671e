/** What every page gets: a way to report an error, to move to another page, and to link. */
import { ApiError } from './api.ts';
import { h } from './dom.ts';
import { middleEllipsis } from './labels.ts';

export interface App {
  /** Show an error above the page (the API's message: it names what and says what to do). */
  error(e: unknown): void;
  /** Clear the error line. */
  ok(): void;
  /** Go to a page: `#/volumes/ID`. */
  go(hash: string): void;
}

export interface PageView {
  readonly element: HTMLElement;
  /** Fetch again (every few seconds while shown, and after a change). */
  refresh(): Promise<void>;
  /** Stop timers when the page is left. */
  dispose?(): void;
}

export const message = (e: unknown): string => (e instanceof ApiError ? `${e.message} (HTTP ${e.status})` : e instanceof Error ? e.message : String(e));

/** A link within the dashboard, its text shortened in the middle to `max`, whole on hover. */
export function link(hash: string, text: string, max = 40, title = text): HTMLAnchorElement {
  return h('a', { href: hash, title }, middleEllipsis(text, max));
}

/** `name value` rows of a detail page. */
export function fields(rows: readonly (readonly [string, Node | string])[]): HTMLElement {
  return h('dl', { class: 'fields' }, ...rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}
