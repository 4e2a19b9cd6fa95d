import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from './config.ts';

describe('parseConfig', () => {
  it('has loopback defaults with anonymous owner', () => {
    const config = parseConfig([], { HOME: '/home/u' });
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.port, 8080);
    assert.equal(config.dataDir, '/home/u/.nimbus');
    assert.equal(config.anonymous, 'owner');
    assert.equal(config.defaultProject, 'nimbus-local');
  });

  it('defaults anonymous to none when bound beyond loopback', () => {
    assert.equal(parseConfig(['--host', '0.0.0.0'], {}).anonymous, 'none');
  });

  it('reads NIMBUS_* variables, and flags win over them', () => {
    const config = parseConfig(['--port=9000'], { NIMBUS_PORT: '7000', NIMBUS_ANONYMOUS: 'viewer' });
    assert.equal(config.port, 9000);
    assert.equal(config.anonymous, 'viewer');
  });

  it('refuses unknown flags and bad values with NIMBUS_ERR_BAD_FLAG', () => {
    for (const args of [
      ['--bogus'],
      ['--port', 'abc'],
      ['--port', '70000'],
      ['--anonymous', 'maybe'],
      ['--project', 'X'],
      ['--port'],
    ]) {
      assert.throws(() => parseConfig(args, {}), { code: 'NIMBUS_ERR_BAD_FLAG' }, args.join(' '));
    }
  });
});
