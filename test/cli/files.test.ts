/** Which config files a command reads, and when it prints colours. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { configFiles, isConfigPath, useColour } from '../../src/cli/files.js';

const tty = { isTTY: true } as NodeJS.WriteStream;
const pipe = { isTTY: false } as NodeJS.WriteStream;

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('cli files and colours', () => {
  it('colours only on a terminal, and never with --no-color or NO_COLOR (any non-empty value)', () => {
    vi.stubEnv('NO_COLOR', '');
    expect(useColour(true, tty)).toBe(true);
    expect(useColour(true, pipe)).toBe(false);
    expect(useColour(false, tty)).toBe(false);
    vi.stubEnv('NO_COLOR', '1');
    expect(useColour(true, tty)).toBe(false);
  });

  it('-f files as given; none given: orchestra.yaml, and orchestra.override.yaml when it is there', () => {
    const dir = mkdtempSync('/tmp/orch-files-');
    expect(configFiles(['a.yaml', 'b.yaml'], dir)).toEqual(['a.yaml', 'b.yaml']);
    expect(configFiles([], dir)).toEqual([join(dir, 'orchestra.yaml')]);
    writeFileSync(join(dir, 'orchestra.override.yaml'), 'agents: {}\n');
    expect(configFiles([], dir)).toEqual([join(dir, 'orchestra.yaml'), join(dir, 'orchestra.override.yaml')]);
  });

  it('an argument with "." or "/" is a config file; agent names never have them', () => {
    expect(['x.yaml', './x', 'dir/x', 'api', 'my-agent_2'].map(isConfigPath)).toEqual([true, true, true, false, false]);
  });
});
