/** Tasks of the crash comparison (pool-crash.ts): one that ends its worker, one that works. */
export function die(): never {
  process.exit(1);
}

export function square(x: number): number {
  return x * x;
}

/** piscina and tinypool call the default export: a negative number ends the worker. */
export default function task(x: number): number {
  if (x < 0) process.exit(1);
  return x * x;
}
