import { ConfigError } from '../../src/config/issues.js';

/**
 * The lines of the config error `load` throws, with every `from` replaced by `to` (a temporary
 * directory's path, so the expected messages can be written out); fails when it loads.
 */
export function configErrors(load: () => unknown, from: string, to: string): string[] {
  try {
    load();
  } catch (err) {
    if (err instanceof ConfigError) return err.message.split('\n').map((l) => l.replaceAll(from, to));
    throw err;
  }
  throw new Error('expected a ConfigError');
}
