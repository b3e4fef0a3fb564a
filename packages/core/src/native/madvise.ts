/**
 * Making every mapping survive fork. The runtime marks some mappings
 * MADV_DONTFORK (VmFlags `dc` in /proc/self/smaps; JavaScriptCore's
 * executable JIT region): a child would lack them and crash at its first
 * call into JIT code. Before each fork every mapping is re-marked DOFORK.
 *
 * Reading /proc/self/smaps costs about 1.3 ms (the kernel counts every page),
 * too much for each start(). madvise(MADV_DOFORK) over a range walks only the
 * mappings in it, skips holes (reporting ENOMEM at the end) and leaves
 * mappings without the flag untouched, so one call over the user address
 * space re-marks whatever exists right now in a few microseconds. The
 * exception is VM_IO mappings ([vvar], [vvar_vclock]), where the walk stops
 * with EINVAL: the address space is cut around them.
 */
import { readFileText } from "./file.ts";
import { libc } from "./libc.ts";

const MADV_DOFORK = 11;
const PAGE = 0x1000;
/** End of user space for 4-level (47-bit) paging; 5-level tables use a larger value. */
const USER_TOP_47 = 0x7fff_ffff_f000;
const USER_TOP_56 = 0xff_ffff_ffff_f000;

/** The ranges to re-mark: user space minus the kernel's special mappings (fixed for the process). */
let ranges: Array<[number, number]> | undefined;

function computeRanges(): Array<[number, number]> {
  const special: Array<[number, number]> = [];
  let top = USER_TOP_47;
  for (const line of readFileText("/proc/self/maps").split("\n")) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) .*\[(vvar[^\]]*|vsyscall)\]$/.exec(line);
    const end = /^[0-9a-f]+-([0-9a-f]+) /.exec(line);
    if (end !== null && Number.parseInt(end[1]!, 16) > USER_TOP_47 && !line.endsWith("[vsyscall]")) top = USER_TOP_56;
    if (m !== null && m[3] !== "vsyscall") special.push([Number.parseInt(m[1]!, 16), Number.parseInt(m[2]!, 16)]);
  }
  special.sort((a, b) => a[0] - b[0]);
  const out: Array<[number, number]> = [];
  let from = PAGE;
  for (const [start, end] of special) {
    if (start > from) out.push([from, start]);
    from = Math.max(from, end);
  }
  if (top > from) out.push([from, top]);
  return out;
}

/**
 * Clears MADV_DONTFORK on every mapping of the process as it is now. Call it
 * right before each fork: the runtime may have created new such mappings
 * since the last one.
 */
export function markAllForkable(): void {
  ranges ??= computeRanges();
  // Errors are expected (ENOMEM for the holes) and harmless; what matters is
  // checked by the backend's tests with `dontForkMappings()`.
  for (const [start, end] of ranges) libc.madvise(start, end - start, MADV_DOFORK);
}

/** The mappings still marked MADV_DONTFORK, as "start-end name" lines (slow: reads smaps). */
export function dontForkMappings(): string[] {
  const out: string[] = [];
  let header = "";
  for (const line of readFileText("/proc/self/smaps").split("\n")) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) header = line;
    else if (line.startsWith("VmFlags:") && / dc( |$)/.test(line)) out.push(header);
  }
  return out;
}
