import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { INSTALLER_PROPERTIES, propertyFlag } from '../../../src-main/core/config/installer-properties.js';
import {
  ConfigError,
  loadAgentConfig,
  machinePolicyFromArgs,
  machinePolicyPath,
  setUserSetting,
  writeMachinePolicy,
} from '../../../src-main/core/config/load.js';
import { CONFIG_KEYS } from '../../../src-main/core/config/schema.js';
import { tempDir } from '../../helpers/tmp.js';

const FP1 = 'a'.repeat(64);
const FP2 = 'b'.repeat(64);
let tmp: ReturnType<typeof tempDir>;
let files: { machinePolicyFile: string; userSettingsFile: string };
const write = (file: string, value: unknown) =>
  writeFileSync(file, typeof value === 'string' ? value : JSON.stringify(value));

beforeEach(() => {
  tmp = tempDir('lifeline-config-');
  files = {
    machinePolicyFile: path.join(tmp.dir, 'policy.json'),
    userSettingsFile: path.join(tmp.dir, 'settings.json'),
  };
});
afterEach(() => tmp.cleanup());

describe('agent configuration precedence', () => {
  it('uses defaults when nothing is configured', () => {
    const { config, managedKeys } = loadAgentConfig(files);
    expect(config).toMatchObject({ kiosk: false, reachabilityBudgetMs: 2000, serverKeyFingerprints: [] });
    expect(managedKeys.size).toBe(0);
  });

  it('takes the machine policy over user settings over defaults', () => {
    write(files.machinePolicyFile, { serverUrl: 'https://lifeline.example.org', kiosk: true });
    write(files.userSettingsFile, { kiosk: false, reachabilityBudgetMs: 1500, serverUrl: 'https://evil.example.com' });
    const { config, managedKeys, overriddenUserKeys } = loadAgentConfig(files);
    expect(config.serverUrl).toBe('https://lifeline.example.org');
    expect(config.kiosk).toBe(true);
    expect(config.reachabilityBudgetMs).toBe(1500); // not managed: the user's value stands
    expect([...managedKeys].sort()).toEqual(['kiosk', 'serverUrl']);
    expect(overriddenUserKeys.sort()).toEqual(['kiosk', 'serverUrl']);
  });

  it('refuses to let the user set a managed value', () => {
    write(files.machinePolicyFile, { serverKeyFingerprints: [FP1] });
    expect(() => setUserSetting(files, 'serverKeyFingerprints', [FP2])).toThrow(/managed by your IT department/);
    setUserSetting(files, 'reachabilityBudgetMs', 3000);
    expect(JSON.parse(readFileSync(files.userSettingsFile, 'utf8'))).toEqual({ reachabilityBudgetMs: 3000 });
  });

  it('allows several pinned server key fingerprints (key rotation)', () => {
    write(files.machinePolicyFile, { serverKeyFingerprints: [FP1, FP2] });
    expect(loadAgentConfig(files).config.serverKeyFingerprints).toEqual([FP1, FP2]);
  });
});

describe('invalid configuration stops the agent naming the key and the problem', () => {
  const cases: [string, unknown, RegExp][] = [
    ['serverUrl', 'lifeline.example.org', /"serverUrl".*absolute URL/],
    ['serverUrl', 'http://lifeline.example.org', /"serverUrl".*https/],
    ['serverUrl', 'https://user:pw@lifeline.example.org', /"serverUrl".*credentials/],
    ['enrollmentSecret', 'short', /"enrollmentSecret".*16/],
    ['serverKeyFingerprints', ['not-hex'], /"serverKeyFingerprints.0".*fingerprint/],
    ['serverKeyFingerprints', [], /"serverKeyFingerprints".*at least one/],
    ['kiosk', 'yes', /"kiosk"/],
    ['alwaysOnTop', 1, /"alwaysOnTop"/],
    ['reachabilityBudgetMs', 10, /"reachabilityBudgetMs".*250/],
    ['reachabilityBudgetMs', 1e9, /"reachabilityBudgetMs".*30000/],
    ['logLevel', 'verbose', /"logLevel"/],
    ['serverCaFile', '', /"serverCaFile"/],
  ];
  it.each(cases)('%s = %j is refused', (key, value, message) => {
    write(files.machinePolicyFile, { [key]: value });
    expect(() => loadAgentConfig(files)).toThrow(ConfigError);
    expect(() => loadAgentConfig(files)).toThrow(message);
  });

  it('covers every configuration key', () => {
    expect(new Set(cases.map(([k]) => k))).toEqual(new Set(CONFIG_KEYS));
  });

  it('names an unknown key and the file', () => {
    write(files.machinePolicyFile, { serverURL: 'https://x.example.org' });
    expect(() => loadAgentConfig(files)).toThrow(/policy\.json: "serverURL" is not a configuration key/);
  });

  it('names a file that is not JSON', () => {
    write(files.userSettingsFile, '{ not json');
    expect(() => loadAgentConfig(files)).toThrow(/settings\.json: "\(file\)" is not valid JSON/);
  });

  it('accepts plain http:// only on loopback', () => {
    for (const url of ['http://127.0.0.1:8480', 'http://localhost:8480', 'http://[::1]:8480']) {
      write(files.machinePolicyFile, { serverUrl: url });
      expect(loadAgentConfig(files).config.serverUrl).toBe(url);
    }
  });
});

describe('installer properties', () => {
  it('turn into a validated machine policy', () => {
    const policy = machinePolicyFromArgs([
      '--write-machine-policy',
      '--server-url=https://lifeline.example.org',
      '--enrollment-secret=0123456789abcdef0123',
      `--server-key=${FP1.toUpperCase()},${FP2}`,
      '--kiosk=1',
      '--reachability-budget-ms=1500',
      '--always-on-top=',
    ]);
    expect(policy).toEqual({
      serverUrl: 'https://lifeline.example.org',
      enrollmentSecret: '0123456789abcdef0123',
      serverKeyFingerprints: [FP1, FP2],
      kiosk: true,
      reachabilityBudgetMs: 1500,
    });
    writeMachinePolicy(files.machinePolicyFile, policy);
    expect(loadAgentConfig(files).config.serverKeyFingerprints).toEqual([FP1, FP2]);
  });

  it('refuse an invalid value with its key named', () => {
    expect(() => machinePolicyFromArgs(['--server-url=http://lifeline.example.org'])).toThrow(
      /installer properties: "serverUrl"/,
    );
  });

  it('use the same names in the NSIS script, the MSI hook and the agent', () => {
    const nsis = readFileSync('build/installer.nsh', 'utf8');
    const nsisPairs = [...nsis.matchAll(/lifelinePolicyArg "([A-Z_]+)" "(--[a-z-]+)"/g)].map((m) => [m[1], m[2]]);
    const msiPairs = createRequire(import.meta.url)(path.resolve('build/msi-project-created.cjs'))
      .PROPERTIES as string[][];
    const agentPairs = Object.keys(INSTALLER_PROPERTIES).map((p) => [
      p,
      propertyFlag(p as keyof typeof INSTALLER_PROPERTIES),
    ]);
    expect(nsisPairs).toEqual(agentPairs);
    expect(msiPairs).toEqual(agentPairs);
  });

  it('live where each platform keeps machine policy', () => {
    expect(machinePolicyPath('win32', { ProgramData: 'C:\\ProgramData' })).toBe(
      'C:\\ProgramData\\Lifeline\\policy.json',
    );
    expect(machinePolicyPath('darwin', {})).toBe('/Library/Application Support/Lifeline/policy.json');
    expect(machinePolicyPath('linux', {})).toBe('/etc/lifeline/policy.json');
  });
});
