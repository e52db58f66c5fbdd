import {
  DNS1123_LABEL_MESSAGE,
  DNS1123_SUBDOMAIN_MESSAGE,
  isDNS1123Label,
  isDNS1123Subdomain,
  isQualifiedName,
  isValidLabelValue,
  validateAnnotations,
  validateLabels,
} from '@virtkit/engine';
import { describe, expect, it } from 'vitest';

describe('DNS-1123 names', () => {
  it.each(['a', 'abc', 'a-b', '0', '123-abc', 'a'.repeat(63)])('label %j is valid', (v) => {
    expect(isDNS1123Label(v)).toEqual([]);
  });

  it.each(['', 'A', 'a_b', '-a', 'a-', 'a.b', 'ä', 'a b'])('label %j is invalid', (v) => {
    expect(isDNS1123Label(v)).toEqual([DNS1123_LABEL_MESSAGE]);
  });

  it('a label longer than 63 characters says so', () => {
    expect(isDNS1123Label('a'.repeat(64))).toEqual(['must be no more than 63 characters']);
  });

  it('words the message like Kubernetes', () => {
    expect(DNS1123_SUBDOMAIN_MESSAGE).toBe(
      "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
    );
    expect(DNS1123_LABEL_MESSAGE).toContain("(e.g. 'my-name',  or '123-abc', regex used for validation is");
  });

  it.each(['a', 'a.b', 'example.com', 'vm-1.ns-2', `${'a'.repeat(63)}.${'b'.repeat(63)}`])(
    'subdomain %j is valid',
    (v) => {
      expect(isDNS1123Subdomain(v)).toEqual([]);
    },
  );

  it.each(['', 'A.b', 'a..b', '.a', 'a.', 'a_b', 'a/b', 'vm-.x'])('subdomain %j is invalid', (v) => {
    expect(isDNS1123Subdomain(v)).toEqual([DNS1123_SUBDOMAIN_MESSAGE]);
  });

  it('a subdomain may be 253 characters, not 254', () => {
    const ok = Array.from({ length: 4 }, () => 'a'.repeat(62)).join('.') + '.a'; // 4*62+3+2 = 253
    expect(ok.length).toBe(253);
    expect(isDNS1123Subdomain(ok)).toEqual([]);
    expect(isDNS1123Subdomain(`${ok}a`)).toEqual(['must be no more than 253 characters']);
  });
});

describe('label keys and values', () => {
  it.each(['app', 'kubevirt.io/vm', 'a.b-c_d', 'MyName', 'example.com/MyName', '123-abc', 'x'.repeat(63)])(
    'key %j is valid',
    (k) => {
      expect(isQualifiedName(k)).toEqual([]);
    },
  );

  it('reports each problem of a key', () => {
    expect(isQualifiedName('')).toEqual(['name part must be non-empty']);
    expect(isQualifiedName('/a')).toEqual(['prefix part must be non-empty']);
    expect(isQualifiedName('a/')).toEqual(['name part must be non-empty']);
    expect(isQualifiedName('x'.repeat(64))).toEqual(['name part must be no more than 63 characters']);
    expect(isQualifiedName('-a')[0]).toMatch(/^name part must consist of alphanumeric characters/);
    expect(isQualifiedName('Example.com/a')[0]).toMatch(/^prefix part a lowercase RFC 1123 subdomain/);
    expect(isQualifiedName('a/b/c')[0]).toMatch(
      /^a qualified name must consist of .* with an optional DNS subdomain prefix/,
    );
  });

  it.each(['', 'v', 'my_value', 'MyValue', '12345', 'a.b-c', 'x'.repeat(63)])('value %j is valid', (v) => {
    expect(isValidLabelValue(v)).toEqual([]);
  });

  it.each(['-a', 'a-', 'a b', 'a/b', 'ä'])('value %j is invalid', (v) => {
    expect(isValidLabelValue(v)[0]).toMatch(/^a valid label must be an empty string or consist of alphanumeric/);
  });

  it('a value longer than 63 characters says so', () => {
    expect(isValidLabelValue('x'.repeat(64))).toEqual(['must be no more than 63 characters']);
  });

  it('validateLabels reports every bad key and value of a map at once', () => {
    const causes = validateLabels({ good: 'yes', 'bad key': 'x', ok: '-bad', num: 5 }, 'metadata.labels');
    expect(causes.map((c) => [c.field, c.reason])).toEqual([
      ['metadata.labels', 'FieldValueInvalid'],
      ['metadata.labels[ok]', 'FieldValueInvalid'],
      ['metadata.labels[num]', 'FieldValueInvalid'],
    ]);
    expect(causes[0]?.message).toMatch(/^invalid label key "bad key": name part must consist/);
    expect(causes[2]?.message).toBe('label value must be a string, got 5');
    expect(validateLabels(['a'], 'metadata.labels')[0]?.message).toBe('must be a map of strings');
    expect(validateLabels(undefined, 'metadata.labels')).toEqual([]);
  });
});

describe('annotations', () => {
  it('accepts any string values and qualified keys regardless of case', () => {
    expect(validateAnnotations({ 'Example.COM/Note': 'anything at all: {}\n' }, 'metadata.annotations')).toEqual([]);
  });

  it('rejects bad keys and non-string values', () => {
    const causes = validateAnnotations({ 'a b': 'x', n: 1 }, 'metadata.annotations');
    expect(causes).toHaveLength(2);
    expect(causes[0]?.message).toMatch(/^invalid annotation key "a b"/);
    expect(causes[1]?.field).toBe('metadata.annotations[n]');
  });

  it('limits the total size of keys and values to 256 KiB, counted in UTF-8 bytes', () => {
    const exactly = { k: 'v'.repeat(256 * 1024 - 1) };
    expect(validateAnnotations(exactly, 'metadata.annotations')).toEqual([]);
    const over = { k: `${'v'.repeat(256 * 1024 - 2)}é` }; // é is two bytes
    const causes = validateAnnotations(over, 'metadata.annotations');
    expect(causes).toEqual([
      {
        field: 'metadata.annotations',
        reason: 'FieldValueTooLong',
        message: 'Too long: must have at most 262144 bytes (annotations total 262145 bytes)',
      },
    ]);
  });
});
