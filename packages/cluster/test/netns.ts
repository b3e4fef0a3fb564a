/**
 * Test fixture: a network namespace joined to this host by a veth pair, so a
 * worker host run inside it can be cut off from the broker by taking the link
 * down (#22 point 3). Needs root and `ip` (iproute2); `netnsSkipReason` tries
 * for real, since containers often refuse namespaces.
 */

/** Runs `ip ...` (at most 5 s); its exit code and stderr. */
async function ip(args: string[]): Promise<{ code: number; err: string }> {
  const proc = Bun.spawn(["ip", ...args], { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  const timer = setTimeout(() => proc.kill("SIGKILL"), 5000);
  const code = await proc.exited;
  clearTimeout(timer);
  return { code, err: (await new Response(proc.stderr).text()).trim() };
}

async function mustIp(args: string[]): Promise<void> {
  const { code, err } = await ip(args);
  if (code !== 0) throw new Error(`ip ${args.join(" ")} failed (exit ${code}): ${err}`);
}

/** Why a namespace cannot be made here (after trying to make one), or undefined when it can. */
export async function netnsSkipReason(): Promise<string | undefined> {
  if (Bun.which("ip") === null) {
    return "ip (iproute2) is not installed: the cut-off host test of #22 in a network namespace is skipped";
  }
  const probe = `multiproc-probe-${process.pid}`;
  const { code, err } = await ip(["netns", "add", probe]);
  if (code !== 0) {
    return `ip netns add is not allowed here (${err}): the cut-off host test of #22 in a network namespace is skipped`;
  }
  const veth = await ip([
    "link",
    "add",
    `mpp${process.pid % 100_000}`,
    "type",
    "veth",
    "peer",
    "name",
    `mpq${process.pid % 100_000}`,
  ]);
  if (veth.code === 0) await ip(["link", "del", `mpp${process.pid % 100_000}`]);
  await ip(["netns", "del", probe]);
  if (veth.code !== 0) {
    return `veth pairs are not allowed here (${veth.err}): the cut-off host test of #22 in a network namespace is skipped`;
  }
  return undefined;
}

export interface Namespace {
  /** This side's address, where a broker for the namespace listens. */
  hostAddress: string;
  /** The command prefix that runs a command inside the namespace. */
  wrap: string[];
  /** Takes the link down: nothing passes between the namespace and this host. */
  cut(): Promise<void>;
  /** Deletes the namespace and the link (stop the processes inside it first). */
  remove(): Promise<void>;
}

/** Makes a namespace with a veth pair to this host on a /30 of its own. */
export async function createNamespace(): Promise<Namespace> {
  const id = Math.floor(Math.random() * 0xffff);
  const name = `multiproc-${process.pid}-${id}`;
  const outside = `mpv${id.toString(16)}o`;
  const inside = `mpv${id.toString(16)}i`;
  // A /30 of 198.18.0.0/15, the range set aside for network tests (RFC 2544): no real network uses it.
  const block = id >> 6;
  const base = `198.${18 + (block >> 8)}.${block & 255}`;
  const hostAddress = `${base}.${(id & 63) * 4 + 1}`;
  const nsAddress = `${base}.${(id & 63) * 4 + 2}`;
  await mustIp(["netns", "add", name]);
  try {
    await mustIp(["link", "add", outside, "type", "veth", "peer", "name", inside]);
    await mustIp(["link", "set", inside, "netns", name]);
    await mustIp(["addr", "add", `${hostAddress}/30`, "dev", outside]);
    await mustIp(["link", "set", outside, "up"]);
    await mustIp(["-n", name, "addr", "add", `${nsAddress}/30`, "dev", inside]);
    await mustIp(["-n", name, "link", "set", inside, "up"]);
    await mustIp(["-n", name, "link", "set", "lo", "up"]);
  } catch (error) {
    await ip(["link", "del", outside]);
    await ip(["netns", "del", name]);
    throw error;
  }
  return {
    hostAddress,
    wrap: ["ip", "netns", "exec", name],
    cut: () => mustIp(["link", "set", outside, "down"]),
    async remove() {
      await ip(["link", "del", outside]);
      await ip(["netns", "del", name]);
    },
  };
}
