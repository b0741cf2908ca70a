import { describe, expect, it } from 'vitest';
import { camelFields } from '../../src/json-fields.js';

describe("aj's JSON dialect", () => {
  it('renames a history row to camelCase, never the keys inside its values', () => {
    const row = { id: 7, object_key: 'a/b.dump', size_bytes: 12, row_counts: { 'public.client_notes': 3 }, verify_ok: null, started_at: new Date(0) };
    expect(JSON.parse(JSON.stringify(camelFields(row)))).toEqual({
      id: 7, objectKey: 'a/b.dump', sizeBytes: 12, rowCounts: { 'public.client_notes': 3 }, verifyOk: null, startedAt: '1970-01-01T00:00:00.000Z',
    });
  });
});
