/** `orchestra provider list|show NAME`: the presets that ship with orchestra, to read and copy. */
import { loadPreset, type Preset, presetNames, PROVIDERS_DIR } from '../config/providers.js';
import { UsageError } from './errors.js';

/** Prints each preset: name, the CLI versions it was checked against, what it is. */
export function providerList(out: NodeJS.WritableStream, dir: string = PROVIDERS_DIR): number {
  const rows = [['NAME', 'CHECKED', 'DESCRIPTION']];
  for (const name of presetNames(dir)) {
    const p = known(name, dir);
    rows.push([p.name, p.checked.length > 0 ? p.checked.join(', ') : '-', p.description]);
  }
  const widths = rows.map((r) => r.map((c) => c.length)).reduce((w, r) => w.map((n, i) => Math.max(n, r[i] ?? 0)));
  out.write(rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ')).join('\n') + '\n');
  return 0;
}

/** Prints the preset's file as it is, so it can be copied into a config. */
export function providerShow(name: string, out: NodeJS.WritableStream, dir: string = PROVIDERS_DIR): number {
  out.write(known(name, dir).text);
  return 0;
}

/** The preset, validated; a name that is none is a usage error naming those there are. */
function known(name: string, dir: string): Preset {
  const preset = loadPreset(name, dir);
  if (preset === undefined) throw new UsageError(`unknown provider "${name}"; known: ${presetNames(dir).join(', ')}`);
  return preset;
}
