/**
 * A list of a real fleet: searched, filtered and paged by the server (the API's `limit` and
 * `marker`, its name and status filters), never by loading everything into the page. A page
 * asks for one row more than it shows, so "next" appears only when there is a next page; the
 * pager keeps the markers it came through, so "previous" goes back exactly.
 */
import { h, replace } from './dom.ts';

export interface Column<T> {
  readonly title: string;
  /** A class on the column's cells: `optional` columns give way on a phone. */
  readonly class?: string;
  readonly cell: (row: T) => Node | string;
}

export interface PageQuery {
  readonly search: string;
  readonly filter: string;
  readonly limit: number;
  readonly marker: string | null;
}

export interface PagedListOptions<T> {
  /** The table's id (tests and styles find it by it). */
  readonly id: string;
  readonly columns: readonly Column<T>[];
  readonly rowAttrs?: (row: T) => Record<string, string>;
  /** A row's id: the marker of the page after it. */
  readonly idOf: (row: T) => string;
  /** At most `limit` rows after `marker`, in the API's order. */
  readonly fetchPage: (q: PageQuery) => Promise<readonly T[]>;
  readonly filter?: { readonly label: string; readonly options: readonly (readonly [string, string])[] };
  readonly searchLabel?: string;
  readonly pageSize?: number;
  readonly empty: string;
  readonly onError: (e: unknown) => void;
}

export class PagedList<T> {
  readonly element: HTMLElement;
  readonly #o: PagedListOptions<T>;
  readonly #body = h('tbody');
  readonly #pager = h('nav', { class: 'pager', 'aria-label': 'pages' });
  readonly #search: HTMLInputElement | null;
  readonly #filter: HTMLSelectElement | null;
  /** Markers of the pages before this one (null: the first page). */
  #markers: (string | null)[] = [];
  #marker: string | null = null;
  #next: string | null = null;
  #seq = 0;

  constructor(o: PagedListOptions<T>) {
    this.#o = o;
    const tools = h('div', { class: 'list-tools' });
    this.#search = o.searchLabel === undefined ? null : h('input', { type: 'search', name: `${o.id}-search`, placeholder: o.searchLabel, 'aria-label': o.searchLabel });
    if (this.#search) {
      let timer: number | undefined;
      this.#search.addEventListener('input', () => {
        window.clearTimeout(timer);
        timer = window.setTimeout(() => void this.first(), 250);
      });
      tools.append(this.#search);
    }
    this.#filter = o.filter ? h('select', { name: `${o.id}-filter`, 'aria-label': o.filter.label }, h('option', { value: '' }, `${o.filter.label}: any`), ...o.filter.options.map(([v, l]) => h('option', { value: v }, l))) : null;
    if (this.#filter) {
      this.#filter.addEventListener('change', () => void this.first());
      tools.append(this.#filter);
    }
    const head = h('thead', {}, h('tr', {}, ...o.columns.map((c) => h('th', { class: c.class ?? '' }, c.title))));
    this.element = h('div', { class: 'list' }, tools, h('div', { class: 'table-wrap' }, h('table', { id: o.id }, head, this.#body)), this.#pager);
  }

  /** Back to the first page (after a search or filter change). */
  async first(): Promise<void> {
    this.#markers = [];
    this.#marker = null;
    await this.reload();
  }

  /** Fetch the current page again (after a change, or to follow the fleet). */
  async reload(): Promise<void> {
    const seq = ++this.#seq;
    const size = this.#o.pageSize ?? 25;
    let got: readonly T[];
    try {
      got = await this.#o.fetchPage({ search: this.#search?.value.trim() ?? '', filter: this.#filter?.value ?? '', limit: size + 1, marker: this.#marker });
    } catch (e) {
      this.#o.onError(e);
      return;
    }
    if (seq !== this.#seq) return; // a newer request answered first
    // A page emptied by deletions: step back rather than show nothing.
    if (got.length === 0 && this.#markers.length > 0) {
      this.#marker = this.#markers.pop() ?? null;
      return this.reload();
    }
    const shown = got.slice(0, size);
    const last = shown[shown.length - 1];
    this.#next = got.length > size && last !== undefined ? this.#o.idOf(last) : null;
    const rows = shown.map((r) => h('tr', this.#o.rowAttrs?.(r) ?? {}, ...this.#o.columns.map((c) => h('td', { class: c.class ?? '' }, c.cell(r)))));
    replace(this.#body, ...(rows.length > 0 ? rows : [h('tr', {}, h('td', { colspan: this.#o.columns.length, class: 'empty' }, this.#o.empty))]));
    const n = this.#markers.length + 1;
    replace(
      this.#pager,
      h('button', { type: 'button', class: 'small prev', disabled: this.#markers.length === 0, onclick: () => void this.#go(-1) }, '‹ Previous'),
      h('span', { class: 'page-no' }, `page ${n}`),
      h('button', { type: 'button', class: 'small next', disabled: this.#next === null, onclick: () => void this.#go(1) }, 'Next ›'),
    );
  }

  async #go(dir: 1 | -1): Promise<void> {
    if (dir === 1 && this.#next !== null) {
      this.#markers.push(this.#marker);
      this.#marker = this.#next;
    } else if (dir === -1 && this.#markers.length > 0) {
      this.#marker = this.#markers.pop() ?? null;
    }
    await this.reload();
  }
}
