/**
 * Starts the servers the store tests talk to, once per test run: one
 * Redis server and a three-master Redis Cluster, each on free loopback
 * ports, and stops them afterwards.
 */
import type { TestProject } from "vitest/node";

import { startCluster, startRedis, type RedisServer } from "../bench/servers.js";

declare module "vitest" {
  export interface ProvidedContext {
    redisUrl: string;
    clusterHosts: string[];
  }
}

let servers: RedisServer[] = [];

export async function setup(project: TestProject): Promise<void> {
  const [single, cluster] = await Promise.all([startRedis(), startCluster()]);
  servers = [single, ...cluster.nodes];
  project.provide("redisUrl", single.url);
  project.provide("clusterHosts", cluster.hosts);
}

export async function teardown(): Promise<void> {
  await Promise.all(servers.map((s) => s.stop()));
}
