/**
 * `{{var}}` placeholders in a template's prompt and worktree branch. A value comes from the spawn
 * (`--var k=v`), else from the template's `vars:` defaults; a placeholder with neither is an error
 * naming it and where it is. `{{ var }}` may have spaces inside the braces.
 */
const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_-]*)\s*\}\}/g;

/** Placeholders without a value: each one's name and where it is (1-based line and column). */
export class MissingVars extends Error {
  constructor(
    readonly missing: readonly { readonly name: string; readonly line: number; readonly col: number }[],
    where: string,
  ) {
    const names = [...new Set(missing.map((m) => m.name))];
    const at = missing.map((m) => `{{${m.name}}} at ${where}:${m.line}:${m.col}`).join(', ');
    // `prompt` is the spawn's own text (PROMPT), not a --var.
    const give = names.map((n) => (n === 'prompt' ? 'a PROMPT' : `--var ${n}=...`)).join(' and ');
    super(`no value for ${names.map((n) => `"${n}"`).join(', ')} (${at}): give ${give}, or a default in the template's vars:`);
  }
}

/** `text` with every placeholder replaced; throws MissingVars listing every one without a value. */
export function render(text: string, vars: Readonly<Record<string, string>>, where: string): string {
  const missing: { name: string; line: number; col: number }[] = [];
  const out = text.replace(PLACEHOLDER, (whole, name: string, offset: number) => {
    const value = vars[name];
    if (value !== undefined) return value;
    const before = text.slice(0, offset);
    const line = before.split('\n').length;
    missing.push({ name, line, col: offset - before.lastIndexOf('\n') });
    return whole;
  });
  if (missing.length > 0) throw new MissingVars(missing, where);
  return out;
}

/** Whether `text` has a placeholder for `name`. */
export function mentions(text: string, name: string): boolean {
  for (const m of text.matchAll(PLACEHOLDER)) if (m[1] === name) return true;
  return false;
}
