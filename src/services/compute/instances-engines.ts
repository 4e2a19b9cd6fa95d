import type { Platform } from '../../core/platform.ts';
import { RuncRuntime } from '../../platform/containers/runtime.ts';
import type { ContainerRuntime, VpcDataplane } from './contracts.ts';
import { createVpcDataplane, vpcFor, vpcNetworkExists } from './vpc/index.ts';

/**
 * The engines instances boot on: a container runtime (runc system containers) and, optionally, the
 * VPC dataplane. Without a dataplane an instance gets a private network namespace with loopback only
 * ("no network" fallback). Tests swap in fakes with `useComputeEngines` before building the app.
 */
export interface ComputeEngines {
  runtime: ContainerRuntime;
  dataplane?: VpcDataplane;
  /** Checks that a network/subnetwork pair exists (the VPC API's resources); absent = trust the dataplane. */
  networkExists?: (project: string, network: string, region: string, subnetwork: string) => boolean;
  /** Subnetwork names of `network` in `region` (picks the subnet when a request names only the network). */
  subnetworksOf?: (project: string, network: string, region: string) => string[];
}

export type ComputeEngineFactory = (platform: Platform) => ComputeEngines | Promise<ComputeEngines>;

/** A runtime that reports why it cannot run anything (engine code or tools missing). */
export function unavailableRuntime(reason: string, fix: string): ContainerRuntime {
  const fail = (): Promise<never> => Promise.reject(new Error(`compute is unavailable: ${reason}`));
  return {
    available: () => Promise.resolve({ ok: false, reason, fix }),
    ensureImage: fail,
    start: fail,
    stop: fail,
    pause: fail,
    resume: fail,
    state: () => Promise.resolve('absent'),
    exec: fail,
    list: () => Promise.resolve([]),
  };
}

/**
 * The engines a real Nimbus runs: runc system containers and the kernel VPC dataplane (absent where
 * it can never work: instances then get a loopback-only namespace).
 */
function defaultEngines(platform: Platform): ComputeEngines {
  const engines: ComputeEngines = {
    runtime: new RuncRuntime(),
    networkExists: vpcNetworkExists(platform),
    subnetworksOf: (project, network, region) => {
      const vpc = vpcFor(platform).service;
      vpc.ensureProject(project);
      return vpc
        .listSubnetworks(project, region)
        .filter((s) => s.network === network)
        .map((s) => s.name);
    },
  };
  const dataplane = createVpcDataplane(platform);
  if (dataplane !== undefined) {
    engines.dataplane = dataplane;
  }
  return engines;
}

let factory: ComputeEngineFactory = defaultEngines;

/** Replaces the engines for apps built from now on in this process (tests: fakes). */
export function useComputeEngines(next: ComputeEngineFactory | undefined): void {
  factory = next ?? defaultEngines;
}

export async function createComputeEngines(platform: Platform): Promise<ComputeEngines> {
  return await factory(platform);
}
