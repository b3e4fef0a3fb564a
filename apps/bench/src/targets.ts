/** Exported child targets for the benchmarks. */
export function noop(): void {}
