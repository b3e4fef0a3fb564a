/**
 * The trivial task of the Pool benchmarks: exported for our spawn and worker
 * pools, and the default export for piscina and tinypool, which load a file.
 */
export function square(x: number): number {
  return x * x;
}

export default square;
