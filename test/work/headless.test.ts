/**
 * Headless runs of the real CLIs, as recorded here against local API stubs
 * (test/fixtures/headless/): what each format makes of them, and the runner end to end.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runHeadless } from '../../src/work/headless-run.js';
import { readStat } from '../../src/host/process-group.js';
import { HEADLESS_OUTPUTS, PROVIDER_HEADLESS } from '../../src/config/headless.js';
import { FORMATS, jsonOutput, outputFormat, resultOf } from '../../src/work/headless.js';
import { eventually } from '../e2e/harness.js';

const FIX = join(import.meta.dirname, '../fixtures');
const rec = (name: string, ext: string) => {
  try {
    return readFileSync(join(FIX, 'headless', `${name}.${ext}`), 'utf8');
  } catch {
    return '';
  }
};
/** A recording as the runner would have seen it. */
function recorded(name: string, format: string) {
  const f = FORMATS[format]!;
  const stdout = rec(name, 'stdout');
  const stderr = rec(name, 'stderr');
  const events = f.framing === 'json' ? jsonOutput(stdout, stderr) : stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as unknown);
  return resultOf(f, { events, text: stdout, exitCode: Number(rec(name, 'code').trim()), signal: null, durationMs: 1, stderr });
}

describe('headless formats against what the real CLIs printed', () => {
  it('claude -p --output-format stream-json: the result event’s text, usage, duration and session; is_error makes a failure even when its subtype says success', () => {
    const ok = recorded('claude-2.1.197-sayhi-streamjson', 'claude-stream-json');
    expect(ok).toMatchObject({ ok: true, text: 'Done: the stub answered.', exitCode: 0 });
    expect(ok.session).toMatch(/^[0-9a-f-]{36}$/);
    expect(ok.usage).toMatchObject({ input_tokens: expect.any(Number), output_tokens: expect.any(Number) });
    expect(ok.durationMs).toBeGreaterThan(1);
    expect(recorded('claude-2.1.197-http400-streamjson', 'claude-stream-json')).toMatchObject({ ok: false, reason: 'API Error: 400 The stub rejects this request.' });
    expect(recorded('claude-2.1.197-stubdown-streamjson', 'claude-stream-json')).toMatchObject({ ok: false, reason: expect.stringMatching(/Unable to connect to API/) });
  });

  it('codex exec --json: the last agent message, the turn’s usage, the thread id; turn.failed is the failure', () => {
    const ok = recorded('codex-0.171.0-sayhi-json', 'codex-json');
    expect(ok).toMatchObject({ ok: true, text: 'Done: the stub answered.', usage: { output_tokens: 5 } });
    expect(ok.session).toMatch(/^[0-9a-f-]{36}$/);
    expect(recorded('codex-0.171.0-http400-json', 'codex-json')).toMatchObject({ ok: false, reason: expect.stringMatching(/The stub rejects this request/) });
  });

  it('gemini -p: stream-json joins the assistant deltas; json is one object, on stderr when it failed (exit 144: its process.exit(400))', () => {
    expect(recorded('gemini-0.61.0-sayhi-streamjson', 'gemini-stream-json')).toMatchObject({ ok: true, text: 'Done: the stub answered.', usage: { output_tokens: 5 } });
    expect(recorded('gemini-0.61.0-http400-streamjson', 'gemini-stream-json')).toMatchObject({ ok: false, exitCode: 144, reason: expect.stringMatching(/stub rejects this request/) });
    expect(recorded('gemini-0.61.0-sayhi-json', 'gemini-json')).toMatchObject({ ok: true, text: 'Done: the stub answered.' });
    expect(recorded('gemini-0.61.0-http400-json', 'gemini-json')).toMatchObject({ ok: false, reason: expect.stringMatching(/stub rejects this request/) });
  });

  it('text output is the text; an exit other than 0 fails with the last line of stderr', () => {
    const f = FORMATS.text!;
    expect(resultOf(f, { events: [], text: 'hi\n', exitCode: 0, signal: null, durationMs: 5 })).toEqual({ ok: true, text: 'hi\n', durationMs: 5, exitCode: 0, signal: null });
    expect(resultOf(f, { events: [], text: '', exitCode: 2, signal: null, durationMs: 5, stderr: 'warming up\nno such model\n' })).toMatchObject({ ok: false, reason: 'exit code 2: no such model' });
  });
});

describe('headless outputs', () => {
  it('every output a template may declare reads a format; each provider’s headless output is one of them', () => {
    expect(HEADLESS_OUTPUTS.map((o) => outputFormat(o).framing)).toEqual(['ndjson', 'ndjson', 'ndjson', 'json', 'text', 'json', 'ndjson']);
    expect(outputFormat('claude')).toBe(FORMATS['claude-stream-json']);
    for (const p of Object.values(PROVIDER_HEADLESS)) expect(HEADLESS_OUTPUTS).toContain(p.output);
  });
});

describe('a headless run (a real process replaying a recording)', () => {
  const spec = (args: string[], format: string, timeoutMs = 20_000) => ({
    name: 'h1',
    file: process.execPath,
    args: [join(FIX, 'headless-replay.mjs'), ...args],
    cwd: FIX,
    env: { PATH: process.env.PATH ?? '' },
    format: FORMATS[format]!,
    timeoutMs,
    stop: { signal: 'SIGTERM' as const, graceMs: 1000 },
  });

  it('hands on each event as it arrives, then the result', async () => {
    const events: unknown[] = [];
    const run = runHeadless(spec(['claude-2.1.197-sayhi-streamjson'], 'claude-stream-json'), { event: (e) => events.push(e) });
    const result = await run.result;
    expect(result).toMatchObject({ ok: true, text: 'Done: the stub answered.', exitCode: 0 });
    expect(events.map((e) => (e as { type: string }).type)).toEqual(['system', 'assistant', 'result']);
  });

  it('a failing run: the CLI’s error is the reason, with its exit code', async () => {
    expect(await runHeadless(spec(['gemini-0.61.0-http400-json'], 'gemini-json')).result).toMatchObject({ ok: false, exitCode: 144, reason: expect.stringMatching(/stub rejects/) });
  });

  it('a run past its timeout is stopped with every process of its session, and says so', async () => {
    const events: unknown[] = [];
    const run = runHeadless(spec(['--hang'], 'ndjson', 500), { event: (e) => events.push(e) });
    const result = await run.result;
    expect(result).toMatchObject({ ok: false, reason: 'timed out after 500ms', signal: 'SIGTERM' });
    const child = (events.find((e) => (e as { type: string }).type === 'child') as { pid: number }).pid;
    // The sleeping child, in the run's session, goes too.
    await eventually(() => (readStat(child)?.state ?? 'Z') === 'Z', 5000, `child ${child} gone`);
  });

  it('regression: a CLI that exits leaving a background process on its output pipe ended its run only at the timeout; the run ends at its exit, the leftover killed', async () => {
    // Its timeout is far past this test's: only the exit can end it in time.
    const run = runHeadless({ ...spec([], 'text', 600_000), file: '/bin/sh', args: ['-c', 'sleep 600 & echo "$!"; echo done'] });
    const result = await run.result;
    expect(result).toMatchObject({ ok: true, exitCode: 0 });
    const leftover = Number(result.text.split('\n')[0]);
    await eventually(() => (readStat(leftover)?.state ?? 'Z') === 'Z', 5000, `leftover ${leftover} gone`);
  }, 20_000);

  it('a command that cannot start is a failed result, not a crash', async () => {
    const result = await runHeadless({ ...spec([], 'text'), file: '/nonexistent/cli' }).result;
    expect(result).toMatchObject({ ok: false, reason: expect.stringMatching(/^it did not start: spawn \/nonexistent\/cli ENOENT/) });
  });
});
