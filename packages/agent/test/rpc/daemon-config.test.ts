// Config editing used to give each extra libvirtd its own settings (pure text; no daemon needed).
import { describe, expect, it } from 'vitest';
import { setConfValue } from '../../src/testing/libvirt-daemons.ts';

describe('setConfValue', () => {
  const conf = ['# Listen for unencrypted TCP connections', '#listen_tcp = 1', '#tcp_port = "16509"', ''].join('\n');

  it('replaces the commented default in place', () => {
    expect(setConfValue(conf, 'listen_tcp', '1')).toBe(
      ['# Listen for unencrypted TCP connections', 'listen_tcp = 1', '#tcp_port = "16509"', ''].join('\n'),
    );
  });

  it('replaces an active setting', () => {
    const once = setConfValue(conf, 'tcp_port', '"16600"');
    expect(setConfValue(once, 'tcp_port', '"16700"')).toContain('\ntcp_port = "16700"\n');
    expect(setConfValue(once, 'tcp_port', '"16700"')).not.toContain('16600');
  });

  it('appends a key that is not there, keeping a final newline', () => {
    expect(setConfValue('a = 1', 'host_uuid', '"x"')).toBe('a = 1\nhost_uuid = "x"\n');
    expect(setConfValue('a = 1\n', 'host_uuid', '"x"')).toBe('a = 1\nhost_uuid = "x"\n');
  });

  it('does not touch keys that merely share a prefix', () => {
    const text = 'keepalive_interval_extra = 3\n';
    expect(setConfValue(text, 'keepalive_interval', '1')).toBe(`${text}keepalive_interval = 1\n`);
  });
});
