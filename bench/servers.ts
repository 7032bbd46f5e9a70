/**
 * Real Redis servers for the tests: Debian's `redis-server`, started as
 * child processes on free loopback ports in a temporary folder, never the
 * machine's own server on 6379.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A redis-server child process. */
export interface RedisServer {
  port: number;
  url: string;
  dir: string;
  /** Stops it with SIGKILL: nothing is flushed, as in a crash. */
  kill(): Promise<void>;
  /** Starts it again on the same port and folder (same data files). */
  restart(): Promise<void>;
  /** Stops it and removes its folder. */
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (free when asked; taken soon after). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

function waitForPort(port: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const sock = connect(port, "127.0.0.1");
      sock.once("connect", () => {
        sock.destroy();
        resolve();
      });
      sock.once("error", () => {
        sock.destroy();
        if (Date.now() > deadline) reject(new Error(`redis on ${port} did not start`));
        else setTimeout(attempt, 20);
      });
    };
    attempt();
  });
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
  });
}

/**
 * Starts a redis-server. `durable` turns on the append-only file with an
 * fsync per write, so a killed server restarts with every reply it gave.
 */
export async function startRedis(
  options: { durable?: boolean; cluster?: boolean } = {},
): Promise<RedisServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), `traqq-redis-${port}-`));
  const args = [
    "--port", String(port),
    "--bind", "127.0.0.1",
    "--dir", dir,
    "--save", "",
    "--daemonize", "no",
    "--logfile", join(dir, "redis.log"),
  ];
  if (options.durable) args.push("--appendonly", "yes", "--appendfsync", "always");
  else args.push("--appendonly", "no");
  if (options.cluster) {
    args.push("--cluster-enabled", "yes", "--cluster-config-file", join(dir, "nodes.conf"));
  }
  let child: ChildProcess;
  const launch = async () => {
    child = spawn("redis-server", args, { stdio: "ignore" });
    child.once("error", () => {});
    await waitForPort(port, 10_000);
  };
  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    async kill() {
      child.kill("SIGKILL");
      await exited(child);
    },
    async restart() {
      await launch();
    },
    async stop() {
      child.kill("SIGKILL");
      await exited(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Three cluster-enabled servers joined into one Cluster with no replicas. */
export async function startCluster(): Promise<{ nodes: RedisServer[]; hosts: string[] }> {
  const nodes = await Promise.all([0, 1, 2].map(() => startRedis({ cluster: true })));
  const hosts = nodes.map((n) => `127.0.0.1:${n.port}`);
  const made = spawnSync(
    "redis-cli",
    ["--cluster", "create", ...hosts, "--cluster-replicas", "0", "--cluster-yes"],
    { encoding: "utf8", timeout: 30_000 },
  );
  if (made.status !== 0) {
    throw new Error(`redis-cli --cluster create failed: ${made.stdout}${made.stderr}`);
  }
  // Every node must agree the cluster is up before a client may use it.
  const deadline = Date.now() + 20_000;
  for (const n of nodes) {
    for (;;) {
      const info = spawnSync("redis-cli", ["-p", String(n.port), "cluster", "info"], {
        encoding: "utf8",
      });
      if (info.stdout.includes("cluster_state:ok")) break;
      if (Date.now() > deadline) throw new Error("cluster did not reach state ok");
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return { nodes, hosts };
}
