/**
 * Builds the quick-start sample machine in fixtures/sample/ deterministically:
 * sample.raw (RAM ranges concatenated, as LiME format=raw writes them) and
 * sample.iomem (its /proc/iomem). Run: node dist/scripts/make-sample.js [DIR]
 */
import * as path from 'node:path';
import { SAMPLE_RANGES, writeMachine } from '../test/helpers/machine';

const dir = path.resolve(process.argv[2] ?? path.join(__dirname, '..', '..', 'fixtures', 'sample'));
const m = writeMachine(dir, SAMPLE_RANGES, 0x5a5a);
process.stdout.write(`sample machine: ${m.raw} + ${m.iomem}\n`);
