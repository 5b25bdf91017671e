/**
 * Pick one of many (a volume among hundreds): a search box that asks the server, and a list of
 * what matched with the facts that tell them apart — name, size and id for a volume.
 */
import { h, replace } from './dom.ts';

export interface Choice {
  readonly value: string;
  readonly label: string;
  /** On hover: the whole of it (ids in full). */
  readonly title: string;
}

export interface Picker {
  readonly element: HTMLElement;
  readonly select: HTMLSelectElement;
  reload(): Promise<void>;
}

export function picker(opts: { name: string; label: string; search: (text: string) => Promise<readonly Choice[]>; onError: (e: unknown) => void }): Picker {
  const input = h('input', { type: 'search', name: `${opts.name}-search`, placeholder: `search ${opts.label}`, 'aria-label': `search ${opts.label}` });
  const select = h('select', { name: opts.name, 'aria-label': opts.label, required: true });
  let seq = 0;
  const reload = async (): Promise<void> => {
    const n = ++seq;
    let found: readonly Choice[];
    try {
      found = await opts.search(input.value.trim());
    } catch (e) {
      opts.onError(e);
      return;
    }
    if (n !== seq) return;
    const keep = select.value;
    replace(select, ...(found.length ? found.map((c) => h('option', { value: c.value, title: c.title }, c.label)) : [h('option', { value: '', disabled: true }, `no ${opts.label} matches`)]));
    if (found.some((c) => c.value === keep)) select.value = keep;
  };
  let timer: number | undefined;
  input.addEventListener('input', () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(() => void reload(), 250);
  });
  return { element: h('span', { class: 'picker' }, input, select), select, reload };
}
