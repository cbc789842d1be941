/** `orchestra config [FILE]` (the resolved config) and `orchestra schema` (the config file's JSON Schema). */
import { stringify } from 'yaml';
import { configJsonSchema } from '../config/json-schema.js';
import { loadConfigFiles } from '../config/load.js';

export function printConfig(files: readonly string[], json: boolean, out: NodeJS.WritableStream): number {
  const config = loadConfigFiles(files);
  out.write(json ? `${JSON.stringify(config, null, 2)}\n` : stringify(config, { lineWidth: 0 }));
  return 0;
}

export function printSchema(out: NodeJS.WritableStream): number {
  out.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
  return 0;
}
