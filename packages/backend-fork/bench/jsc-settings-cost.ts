/**
 * What the fork backend's JSC settings (JSC_SETTINGS: concurrent GC, concurrent
 * JIT and block warm-up off) cost a parent: the same workloads run in a fresh
 * bun with and without them (median of 5).
 * Run: bun bench/jsc-settings-cost.ts
 */
import { JSC_SETTINGS } from "../src/jsc-settings.ts";

const workloads: Record<string, string> = {
  "allocation churn (GC-bound)": `
    let keep = [];
    for (let r = 0; r < 60; r++) { const a = []; for (let i = 0; i < 100000; i++) a.push({ i, s: "k" + i }); keep = a; }`,
  "JSON round trips": `
    const o = Array.from({ length: 20000 }, (_, i) => ({ i, name: "n" + i, tags: ["a", "b"], v: i / 3 }));
    for (let r = 0; r < 20; r++) JSON.parse(JSON.stringify(o));`,
  "hot numeric loop (JIT-bound)": `
    let s = 0; for (let i = 0; i < 3e8; i++) s = (s + i * 7) % 1000003;`,
  "many small functions (compile-bound)": `
    for (let k = 0; k < 3000; k++) { const f = new Function("x", "let s = 0; for (let i = 0; i < 200; i++) s += (x * i) % " + (k + 7) + "; return s;"); for (let j = 0; j < 300; j++) f(j); }`,
};

function runOnce(code: string, env: Record<string, string>): number {
  const script = `const t0 = performance.now(); ${code}; console.log(performance.now() - t0);`;
  const r = Bun.spawnSync([process.execPath, "-e", script], { env: { ...process.env, ...env }, stdout: "pipe" });
  return Number(r.stdout.toString().trim());
}

const off = { ...JSC_SETTINGS, MULTIPROC_FORK_REEXEC: "1" };
const rows = [];
for (const [name, code] of Object.entries(workloads)) {
  const median = (env: Record<string, string>) => {
    const xs = Array.from({ length: 5 }, () => runOnce(code, env)).sort((a, b) => a - b);
    return xs[2]!;
  };
  const base = median({});
  const tuned = median(off);
  rows.push({
    workload: name,
    "default ms": base.toFixed(0),
    "settings ms": tuned.toFixed(0),
    change: `${(((tuned - base) / base) * 100).toFixed(0)}%`,
  });
}
const startup = (env: Record<string, string>) =>
  Array.from({ length: 9 }, () => {
    const t0 = performance.now();
    Bun.spawnSync([process.execPath, "-e", "0"], { env: { ...process.env, ...env } });
    return performance.now() - t0;
  }).sort((a, b) => a - b)[4]!;
rows.push({
  workload: "bun -e 0 (start-up)",
  "default ms": startup({}).toFixed(1),
  "settings ms": startup(off).toFixed(1),
  change: "",
});
console.table(rows);
