import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GuestResult } from './guest';
import { SUMMARY } from './paths';

const results: GuestResult[] = JSON.parse(fs.readFileSync(SUMMARY, 'utf8')).results;

describe('real kernels: every boot took every acquisition', () => {
  for (const r of results) it(r.layout, () => expect(r.failures).toEqual([]));
});
