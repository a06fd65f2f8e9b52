import { CONFIG_FILE_SETTING, settingSpec, type SettingName, type SettingSpec, type StorageDefault } from '@lethe/engine';

/**
 * A setting's flag help, derived from the engine's option spec (SETTINGS in
 * engine/src/option-spec.ts): its description, environment variable and default, so a flag's help
 * cannot drift from the bound or default the resolver applies. A command whose use differs says so
 * in `o`: `about` replaces the description, `defaultText` the default, `note` is appended.
 */
export interface SettingHelpOptions {
  readonly about?: string;
  readonly defaultText?: string;
  readonly note?: string;
}

export function settingHelp(name: SettingName | 'config', o: SettingHelpOptions = {}): string {
  const spec: Pick<SettingSpec, 'description' | 'env' | 'default'> = name === 'config' ? CONFIG_FILE_SETTING : settingSpec(name);
  const facts = [spec.env === undefined ? undefined : `env ${spec.env}`, o.defaultText ?? defaultText(spec.default)].filter((f) => f !== undefined);
  const about = o.about ?? spec.description;
  return `${about}${facts.length > 0 ? ` (${facts.join(', ')})` : ''}${o.note === undefined ? '' : `; ${o.note}`}`;
}

function defaultText(value: SettingSpec['default']): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'object') return `default ${(value as StorageDefault).file} for files, ${(value as StorageDefault).s3} for S3`;
  return typeof value === 'string' && /\s/.test(value) ? `default "${value}"` : `default ${value}`;
}
