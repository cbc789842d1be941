/** `orchestra doctor`: which agent CLIs this machine has, their versions, and whether they are logged in. */
import { loadPreset, type Preset, presetNames, PROVIDERS_DIR } from '../config/providers.js';
import { type Diagnosis, diagnose, type Env } from '../host/detect.js';

/** Prints one row per agent CLI preset (those that say how to detect a login); always exits 0. */
export async function doctor(json: boolean, out: NodeJS.WritableStream, env: Env = process.env, dir: string = PROVIDERS_DIR): Promise<number> {
  const presets = presetNames(dir)
    .map((name) => loadPreset(name, dir))
    .filter((p): p is Preset => p?.auth !== undefined);
  // One at a time: node CLIs take seconds to print a version, and on 2 cores probes run together
  // overran the 5 s timeout (gemini 0.61.0: 3.6 s alone, over 5 s beside three others).
  const found: Diagnosis[] = [];
  for (const p of presets) found.push(await diagnose(p, env, process.cwd()));
  out.write(json ? `${JSON.stringify(found.map(toJson), null, 2)}\n` : table(found));
  return 0;
}

function toJson(d: Diagnosis) {
  return { provider: d.provider, installed: d.path ?? null, version: d.version ?? null, checked: d.checked, auth: d.auth ?? null };
}

function table(found: readonly Diagnosis[]): string {
  const rows = [['PROVIDER', 'INSTALLED', 'VERSION', 'CHECKED', 'AUTH']];
  for (const d of found) {
    rows.push([d.provider, d.path ?? 'no', d.version ?? '-', d.checked ? 'yes' : 'no', d.auth === undefined ? 'no' : `yes (${d.auth})`]);
  }
  const widths = rows.map((r) => r.map((c) => c.length)).reduce((w, r) => w.map((n, i) => Math.max(n, r[i] ?? 0)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ')).join('\n') + '\n';
}
