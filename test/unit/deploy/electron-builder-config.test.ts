import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';

// electron-builder cannot package here (no Electron downloads), so its configuration is checked against
// electron-builder's own JSON schema and against the invariants IT and the security checklist depend on.
const require = createRequire(import.meta.url);
const schema = JSON.parse(readFileSync(require.resolve('app-builder-lib/scheme.json'), 'utf8'));
const configText = readFileSync('electron-builder.yml', 'utf8');
const config = parse(configText);

describe('electron-builder.yml', () => {
  it("validates against electron-builder's configuration schema", () => {
    const ajv = new Ajv({ strict: false, allErrors: true });
    const validate = ajv.compile(schema);
    const ok = validate(config);
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
  });

  it('builds a per-machine NSIS installer with silent-install properties and an MSI', () => {
    const targets = config.win.target.map((t: { target: string }) => t.target);
    expect(targets).toEqual(expect.arrayContaining(['nsis', 'msi']));
    expect(config.nsis.perMachine).toBe(true);
    expect(config.nsis.oneClick).toBe(false);
    expect(config.nsis.include).toBe('build/installer.nsh');
    expect(config.msi.perMachine).toBe(true);
    expect(config.msi.upgradeCode).toMatch(/^[0-9a-f-]{36}$/);
    expect(config.nsis.guid).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('builds macOS dmg with hardened runtime and notarisation, and Linux deb and AppImage', () => {
    expect(config.mac.target.map((t: { target: string }) => t.target)).toContain('dmg');
    expect(config.mac.hardenedRuntime).toBe(true);
    expect(config.mac.notarize).toBe(true);
    expect(config.linux.target.map((t: { target: string }) => t.target)).toEqual(
      expect.arrayContaining(['deb', 'AppImage']),
    );
  });

  it('sets every Electron fuse explicitly, to the locked-down value', () => {
    const fuseNames = Object.keys(schema.definitions.FuseOptionsV1.properties);
    expect(Object.keys(config.electronFuses).sort()).toEqual([...fuseNames].sort());
    expect(config.electronFuses).toMatchObject({
      runAsNode: false,
      enableNodeOptionsEnvironmentVariable: false,
      enableNodeCliInspectArguments: false,
      enableEmbeddedAsarIntegrityValidation: true,
      onlyLoadAppFromAsar: true,
      grantFileProtocolExtraPrivileges: false,
      enableCookieEncryption: true,
    });
  });

  it('packs into ASAR with native modules unpacked, from a staging folder', () => {
    expect(config.asar).toBe(true);
    expect(config.asarUnpack).toContain('**/*.node');
    expect(config.directories.app).toBe('dist/app');
    expect(config.appId).toBe('org.lifeline.agent');
    expect(config.artifactName).toContain('${version}');
  });

  it('holds no signing secret: certificates and passwords come only from the environment', () => {
    const forbidden = [
      'cscLink',
      'cscKeyPassword',
      'certificatePassword',
      'certificateFile',
      'password',
      'azureSignOptions',
    ];
    const walk = (node: unknown, at: string): void => {
      if (node && typeof node === 'object') {
        for (const [k, v] of Object.entries(node)) {
          expect(forbidden, `${at}.${k} must come from the environment`).not.toContain(k);
          walk(v, `${at}.${k}`);
        }
      }
    };
    walk(config, 'config');
    expect(configText).not.toMatch(/-----BEGIN|\.pfx|\.p12/i);
  });
});
