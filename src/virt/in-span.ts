import type { SpanAttrs, Span } from '../trace/span.ts';

/** Run `fn` in a child span of `span` when the caller traces, or plainly when it does not. */
export function inSpan<T>(span: Span | undefined, name: string, attrs: SpanAttrs, fn: (s: Span | undefined) => Promise<T>): Promise<T> {
  return span ? span.run(name, attrs, (s) => fn(s)) : fn(undefined);
}
