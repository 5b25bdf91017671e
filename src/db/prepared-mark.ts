/**
 * How a prepared statement (prepared.ts) finds its arguments among a compiled query's
 * parameters: each argument is compiled as a marker value. A plugin that changes a written value
 * at compile time (sealed-columns.ts) cannot change the marker: it tags it instead, and the
 * prepared statement applies the change to the argument each time it runs.
 */
export const ARG_MARK = '\u0000hitch-arg:';
/** The tag sealed-columns.ts puts on an argument's marker written to a secret column. */
export const SEAL_TAG = ':sealed';
