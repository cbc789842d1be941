/**
 * What a headless template's config may say (docs/work.md#headless-runs): the names its `output:`
 * takes, and how each provider's CLI runs headless. The formats these names read are the work
 * layer's (src/work/headless.ts).
 */

/** One name per CLI orchestra knows, and the plain framings for any other command. */
export const HEADLESS_OUTPUTS = ['claude', 'codex', 'gemini', 'gemini-json', 'text', 'json', 'ndjson'] as const;
export type HeadlessOutput = (typeof HEADLESS_OUTPUTS)[number];

/**
 * How the CLI of a provider runs headless: the arguments that follow its own (the prompt comes
 * last, after them) and its output. As recorded (test/fixtures/headless/); gemini's `-p` takes the
 * prompt as its value, so it is last.
 */
export const PROVIDER_HEADLESS: Readonly<Record<string, { readonly output: HeadlessOutput; readonly args: readonly string[] }>> = {
  claude: { output: 'claude', args: ['-p', '--output-format', 'stream-json', '--verbose'] },
  codex: { output: 'codex', args: ['exec', '--json'] },
  gemini: { output: 'gemini', args: ['--output-format', 'stream-json', '-p'] },
};
