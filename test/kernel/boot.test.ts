import { describe, expect, it } from 'vitest';
import { layoutsFromEnv } from './layouts';
import { boots } from './truth';

describe('real kernels: every boot took every acquisition', () => {
  for (const b of boots(layoutsFromEnv())) it(`${b.layout.name} (${b.layout.about})`, () => expect(b.result.failures).toEqual([]));
});
