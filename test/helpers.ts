import type { LightMyRequestResponse } from 'fastify';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp, type NimbusApp } from '../src/app.ts';
import { testConfig, type NimbusConfig } from '../src/config.ts';
import type { Clock } from '../src/core/clock.ts';

/** Google clients must never probe the real metadata address from tests. */
process.env.METADATA_SERVER_DETECTION ??= 'none';

export function tempDir(prefix = 'nimbus-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface TestApp extends NimbusApp {
  dataDir: string;
  config: NimbusConfig;
  /** A bearer token for the local owner. */
  ownerToken: string;
  /** Closes the app and removes its data dir. */
  dispose(): Promise<void>;
}

/** Builds an app on a fresh temp data dir (no listening; use app.inject). */
export async function startTestApp(overrides: Partial<NimbusConfig> = {}, clock?: Clock): Promise<TestApp> {
  const dataDir = overrides.dataDir ?? tempDir();
  const config = testConfig(dataDir, overrides);
  const nimbus = await buildApp(config, clock === undefined ? {} : { clock });
  const ownerToken = nimbus.platform.tokens.issueAccessToken(nimbus.platform.ownerPrincipal()).accessToken;
  return {
    ...nimbus,
    dataDir,
    config,
    ownerToken,
    dispose: async () => {
      await nimbus.close();
      if (overrides.dataDir === undefined) {
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
  };
}

/** Builds and listens on a free loopback port (for official clients and real HTTP). */
export async function startTestServer(
  overrides: Partial<NimbusConfig> = {},
  clock?: Clock,
): Promise<TestApp & { url: string; port: number }> {
  const test = await startTestApp(overrides, clock);
  await test.app.listen({ host: '127.0.0.1', port: 0 });
  const address = test.app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return { ...test, url: `http://127.0.0.1:${port}`, port };
}

export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

export type Json = Record<string, unknown>;
export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** A JSON caller through app.inject, authenticated as `token` (the owner by default). */
export function jsonCaller(t: TestApp, token = t.ownerToken) {
  return async (method: Method, url: string, payload?: object): Promise<{ status: number; body: Json }> => {
    const res = await t.app.inject({ method, url, headers: bearer(token), ...(payload ? { payload } : {}) });
    return { status: res.statusCode, body: res.json<Json>() };
  };
}

/**
 * Raw requests through app.inject as `token` (undefined: anonymous), with optional payload and
 * headers. `app` is read per call, so suites can build the caller before `before()` starts the app.
 */
export function injector(app: () => TestApp) {
  return async (
    method: Method,
    url: string,
    token: string | undefined,
    payload?: object | Buffer | string,
    headers: Record<string, string> = {},
  ): Promise<LightMyRequestResponse> =>
    app().app.inject({
      method,
      url,
      headers: { ...(token === undefined ? {} : bearer(token)), ...headers },
      ...(payload === undefined ? {} : { payload }),
    });
}

export interface PolicyBindings {
  bindings?: { role: string; members: string[] }[];
  etag?: string;
}

/** The policy's bindings with `member` added to `role` (for read-modify-write grants in tests). */
export function withBinding(
  policy: PolicyBindings,
  role: string,
  member: string,
): { role: string; members: string[] }[] {
  const bindings = (policy.bindings ?? []).map((b) => ({ ...b, members: [...b.members] }));
  const binding = bindings.find((b) => b.role === role);
  if (binding === undefined) {
    bindings.push({ role, members: [member] });
  } else {
    binding.members.push(member);
  }
  return bindings;
}
