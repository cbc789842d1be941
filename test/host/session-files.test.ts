/** Reading an agent CLI's conversation files: path patterns, the JSON first line, message lines. */
import { mkdirSync, mkdtempSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fieldOf, globFiles, hasMessage, headerHas, readHeader } from '../../src/host/session-files.js';

function tree(files: Record<string, string>): string {
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'orch-files-')));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

describe('session files', () => {
  it('a pattern matches within one path segment per wildcard, sorted; a literal path matches itself if it is a file', () => {
    const root = tree({ 'a/chats/session-1.jsonl': '', 'b/chats/session-2.jsonl': '', 'b/chats/x/session-3.jsonl': '', 'b/chats/notes.txt': '', 'c.jsonl': '' });
    expect(globFiles(`${root}/*/chats/session-*.jsonl`)).toEqual([`${root}/a/chats/session-1.jsonl`, `${root}/b/chats/session-2.jsonl`]);
    expect(globFiles(`${root}/?/chats/session-?.jsonl`)).toHaveLength(2);
    expect(globFiles(`${root}/c.jsonl`)).toEqual([`${root}/c.jsonl`]);
    expect(globFiles(`${root}/a`)).toEqual([]);
    expect(globFiles(`${root}/missing/*/x`)).toEqual([]);
    // Regular-expression characters in a pattern are literal.
    expect(globFiles(`${root}/c.json+`)).toEqual([]);
  });

  it('the header is the first line as a JSON object, however long (codex puts its system prompt there); anything else is none', () => {
    const long = JSON.stringify({ type: 'session_meta', payload: { id: 'X', text: 'y'.repeat(200_000) } });
    const root = tree({ long: `${long}\n{"type":"event"}\n`, array: '[1]\n', text: 'hello\n', empty: '' });
    expect(fieldOf(readHeader(join(root, 'long')), 'payload.id')).toBe('X');
    expect(['array', 'text', 'empty', 'gone'].map((f) => readHeader(join(root, f)))).toEqual([undefined, undefined, undefined, undefined]);
    expect(headerHas(readHeader(join(root, 'long')), { type: 'session_meta', 'payload.id': 'X' })).toBe(true);
    expect(headerHas(readHeader(join(root, 'long')), { 'payload.id': 'Y' })).toBe(false);
  });

  it("a message is a later line with one of the values; gemini's own context in its header or a $set line is not one", () => {
    const root = tree({
      empty: '{"sessionId":"S","type":"user"}\n{"$set":{"messages":[{"type":"user"}]}}\nnot json\n',
      talked: '{"sessionId":"S"}\n{"$set":{}}\n{"id":"1","type":"gemini","content":"hi"}\n',
    });
    expect(hasMessage(join(root, 'empty'), { type: ['user', 'gemini'] })).toBe(false);
    expect(hasMessage(join(root, 'talked'), { type: ['user', 'gemini'] })).toBe(true);
    expect(hasMessage(join(root, 'gone'), { type: ['user'] })).toBe(false);
  });
});
