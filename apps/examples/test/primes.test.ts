import { describe, expect, test } from "bun:test";
import { getAllStartMethods } from "@multiproc/core";
import { runExample } from "./_run-example.ts";
import { countPrimes } from "../src/primes.ts";

describe.each(getAllStartMethods())("primes on %s", (backend) => {
  test("the pool counts as many primes as one process, and prints the speed-up", () => {
    const lines = runExample("primes", backend);
    expect(lines[0]).toMatch(new RegExp(`^\\[backend: ${backend}\\] primes below 3000000, \\d+ workers$`));
    expect(lines[1]).toMatch(/^one process: 216816 primes in \d+ ms$/);
    expect(lines[2]).toMatch(/^pool of \d+: 216816 primes in \d+ ms$/);
    expect(lines[3]).toMatch(/^speed-up: \d+\.\d\dx$/);
  });
});

test("countPrimes agrees with known counts", () => {
  expect(countPrimes(0, 100)).toBe(25);
  expect(countPrimes(0, 2)).toBe(0);
  expect(countPrimes(2, 3)).toBe(1);
  expect(countPrimes(0, 10_000) + countPrimes(10_000, 20_000)).toBe(2262);
});
