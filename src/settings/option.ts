/**
 * Options as data. Every option of every command is one entry: its flag, help, environment
 * variable, how its value is converted and checked, and whether an upload's sidecar may set it.
 * A table maps each field of a typed options object to its entry, so a field without an entry
 * does not compile. One parser (parseOptions) turns a plain record into the typed object: what
 * commander hands over (text), a watch sidecar (JSON values) or object metadata (text).
 */
import { VidpipeError } from '../errors.js';

/** The presentation of an option: what commander, --help and docs/options.md show. */
export interface OptionSpec {
  flags: string;
  description: string;
  defaultValue?: string | boolean | string[];
  /** How help and docs state a default computed at run time (the same text on every machine). */
  defaultDescription?: string;
  /** Environment variable that provides the value when the flag is absent. */
  env?: string;
  /** Repeatable option collecting values into an array. */
  repeatable?: boolean;
}

/** Where a value being parsed came from, for its messages and for what it may ask. */
export interface Field {
  /** The option's flag, `--segment-duration`: messages name it wherever the value came from. */
  flag: string;
  /** The name as an upload wrote it (`segmentDuration`, `segment-duration`); absent on the command line. */
  key?: string;
  /** Prefix for messages: the sidecar's URI, "metadata of s3://…"; absent on the command line. */
  where?: string;
  /** The command line may name local files; an upload (someone else's sidecar or metadata) must not. */
  from: 'cli' | 'upload';
}

export type Parse<T> = (value: unknown, field: Field) => T;

/** An option with a flag of its own. */
export interface FlagEntry<T> extends Omit<OptionSpec, 'defaultValue'> {
  parse: Parse<T>;
  /**
   * Help and docs state the default from the table's defaults object (else the description says
   * it), as the option would be typed, or as this function writes it.
   */
  showDefault?: boolean | ((value: T) => string);
  /** A watch sidecar (`<key>.vidpipe.json`) or `x-amz-meta-vidpipe-*` metadata may set it. */
  sidecar?: boolean;
  /** Other names an upload may use for it (`tags` for `--tag`). */
  aliases?: string[];
  /**
   * Key material or a credential: left out of every copy of the settings that is stored or sent
   * (shareableCopy: SQLite, queue specs, resume state, --plan, --json), never echoed by a message
   * about its value, never taken from an upload, never shown as a default. The field must be
   * optional: shared copies lack it. A worker that needs it reads it from its own environment
   * (`env`), never from the queue (secretsFromEnvironment).
   */
  secret?: boolean;
}

/** A field read from another entry's flag (`--opus 64,96` sets both `opus` and `opusKbps`). */
export interface SharedFlagEntry<T> {
  sameFlagAs: string;
  parse: Parse<T>;
}

/** A field no flag sets: its value is always the default; the reason is for the reader. */
export interface FixedEntry {
  notOnCommandLine: string;
}

export type Entry<T> = FlagEntry<T> | SharedFlagEntry<T> | FixedEntry;

/** One entry per field of T: a field without one (or without an explicit FixedEntry) fails to compile. */
export type OptionTable<T> = { [K in keyof T]-?: Entry<T[K]> };

/** Every field spelled out, optional ones too (with undefined): a defaults object that forgets none. */
export type Complete<T> = { [K in keyof Required<T>]: K extends keyof T ? T[K] : never };

export function isFlagEntry<T>(entry: Entry<T>): entry is FlagEntry<T> {
  return 'flags' in entry;
}

/** The long flag of a flags string: `-o, --out <dir>` → `--out`, `--no-thumbnails` → `--no-thumbnails`. */
export function longFlag(flags: string): string {
  const long = /--[\w-]+/.exec(flags);
  if (!long) throw new VidpipeError('INTERNAL', `option "${flags}" has no long flag`);
  return long[0];
}

/** The key commander stores a flag's value under: `--segment-duration` → `segmentDuration`, `--no-thumbnails` → `thumbnails`. */
export function attributeName(flags: string): string {
  return camelCase(longFlag(flags).slice(2).replace(/^no-/, ''));
}

export function camelCase(name: string): string {
  return name.replace(/-+([a-z0-9])/gi, (_, c: string) => c.toUpperCase());
}

function entryOf<T>(table: OptionTable<T>, key: keyof T): Entry<T[keyof T]> {
  return table[key];
}

/** The flag entry whose value a field reads: its own, or the one it shares. */
function flagEntryOf<T>(table: OptionTable<T>, key: keyof T): Pick<FlagEntry<unknown>, 'flags'> | undefined {
  const entry = entryOf(table, key);
  if (isFlagEntry(entry)) return entry;
  if ('sameFlagAs' in entry) {
    const shared = (table as Record<string, Entry<unknown>>)[entry.sameFlagAs];
    if (!shared || !isFlagEntry(shared)) throw new VidpipeError('INTERNAL', `option ${String(key)} shares the flag of ${entry.sameFlagAs}, which has none`);
    return shared;
  }
  return undefined;
}

/** Whether a field holds a secret: its own entry, or the flag entry it shares, says `secret`. */
export function isSecretField<T>(table: OptionTable<T>, key: keyof T): boolean {
  const entry = flagEntryOf(table, key);
  return entry !== undefined && (entry as FlagEntry<unknown>).secret === true;
}

/** The fields of a table that hold secrets. */
export function secretFields<T>(table: OptionTable<T>): (keyof T)[] {
  return tableKeys(table).filter((key) => isSecretField(table, key));
}

/**
 * The shareable copy of a value typed by `table`: every secret field left out. The one function
 * every stored or sent copy of settings goes through (docs/architecture.md, "Adding an option").
 */
export function shareableCopy<T extends object>(table: OptionTable<T>, value: T): T {
  const copy = { ...value };
  for (const key of secretFields(table)) delete copy[key];
  return copy;
}

/** The secret fields of `value` that are set, and nothing else (what a fingerprint covers). */
export function secretsOf<T extends object>(table: OptionTable<T>, value: T): Partial<T> {
  const secrets: Partial<T> = {};
  for (const key of secretFields(table)) if (value[key] !== undefined) assign(secrets, key, value[key]);
  return secrets;
}

/**
 * A worker's own secrets: each secret entry with an `env` variable, read from this machine's
 * environment and parsed like the flag. A queue spec never carries them (shareableCopy).
 */
export function secretsFromEnvironment<T>(table: OptionTable<T>, env: NodeJS.ProcessEnv = process.env): Partial<T> {
  const found: Partial<T> = {};
  for (const key of secretFields(table)) {
    const entry = entryOf(table, key);
    if (!isFlagEntry(entry) || !entry.env || env[entry.env] === undefined || env[entry.env] === '') continue;
    assign(found, key, parseSecret(entry, env[entry.env], { flag: longFlag(entry.flags), where: `$${entry.env}`, from: 'cli' }));
  }
  return found;
}

/** A secret's parse, its value kept out of the message should it fail. */
function parseSecret<T>(entry: FlagEntry<T> | SharedFlagEntry<T>, value: unknown, field: Field): T {
  try {
    return entry.parse(value, field);
  } catch (error) {
    throw redacted(error, value);
  }
}

/** An error with every spelling of a secret value replaced by `<secret>` in its message and hint. */
export function redacted(error: unknown, value: unknown): unknown {
  if (!(error instanceof VidpipeError)) return error;
  const spellings = (Array.isArray(value) ? value : [value]).map((v) => String(v)).flatMap((v) => [v, v.trim()]).filter((v) => v.length > 0);
  const hide = (text: string | undefined) => (text === undefined ? undefined : spellings.reduce((out, spelling) => out.split(spelling).join('<secret>'), text));
  return new VidpipeError(error.code, hide(error.message)!, { ...(error.hint === undefined ? {} : { hint: hide(error.hint) }), ...(error.stderrTail === undefined ? {} : { stderrTail: error.stderrTail }) });
}

/** Keys in table order (object literals keep it: help and docs list options in this order). */
export function tableKeys<T>(table: OptionTable<T>): (keyof T)[] {
  return Object.keys(table) as (keyof T)[];
}

/** How a default is shown: `6`, `64,128,256`, `h264`. */
function shownDefault(value: unknown): string | boolean | undefined {
  if (value === undefined) return undefined;
  if (Array.isArray(value)) return value.join(',');
  if (typeof value === 'boolean') return value;
  return String(value);
}

/** The table as commander and the docs see it, in table order (fields without a flag of their own left out). */
export function optionSpecs<T>(table: OptionTable<T>, defaults: T): OptionSpec[] {
  return tableKeys(table).flatMap((key) => {
    const entry = entryOf(table, key);
    if (!isFlagEntry(entry)) return [];
    const { parse: _parse, showDefault, sidecar: _sidecar, aliases: _aliases, secret, ...spec } = entry;
    // A secret's value is never printed, not even a default.
    const defaultValue = secret ? undefined : typeof showDefault === 'function' ? showDefault(defaults[key]) : showDefault ? shownDefault(defaults[key]) : undefined;
    return [{ ...spec, ...(defaultValue === undefined ? {} : { defaultValue }) }];
  });
}

export interface ParseSource {
  from: 'cli' | 'upload';
  where?: string;
}

function assign<T, K extends keyof T>(target: Partial<T>, key: K, value: T[K]): void {
  target[key] = value;
}

/** The fields of `value` that `defaults` has (the settings part of a record that holds flags too). */
export function onlyFields<T>(value: Partial<Record<keyof T, unknown>> & Partial<T>, defaults: Complete<T>): Partial<T> {
  const fields: Partial<T> = {};
  for (const key of Object.keys(defaults) as (keyof T)[]) if (key in value) assign(fields, key, value[key] as T[keyof T]);
  return fields;
}

/**
 * The typed options from a plain record keyed by commander's attribute names (`segmentDuration`):
 * each field of `defaults` is read through its entry, converted and checked; an absent one keeps
 * its default. The table may hold entries of other fields (a command's flags beside its settings).
 */
export function parseOptions<T>(table: OptionTable<T>, defaults: Complete<T>, record: Readonly<Record<string, unknown>>, source: ParseSource = { from: 'cli' }): T {
  const parsed: T = { ...defaults };
  for (const key of Object.keys(defaults) as (keyof T)[]) {
    const entry = entryOf(table, key);
    const flagEntry = flagEntryOf(table, key);
    if (!flagEntry || !('parse' in entry)) continue;
    const value = record[attributeName(flagEntry.flags)];
    if (value === undefined) continue;
    const field: Field = { flag: longFlag(flagEntry.flags), from: source.from, ...(source.where ? { where: source.where } : {}) };
    parsed[key] = isSecretField(table, key) ? parseSecret(entry, value, field) : entry.parse(value, field);
  }
  return parsed;
}

/**
 * What an upload asks for, by the names it may use (attribute names and kebab-case flag names,
 * and an entry's aliases): only `sidecar` entries. Unknown names fail with the known ones listed.
 */
export function parseUploadOptions<T>(table: OptionTable<T>, record: Readonly<Record<string, unknown>>, where: string): Partial<T> {
  const byName = new Map<string, keyof T>();
  const known: string[] = [];
  for (const key of tableKeys(table)) {
    const entry = entryOf(table, key);
    // A secret in an upload's sidecar or metadata is already out in the open: never taken from there.
    if (!isFlagEntry(entry) || !entry.sidecar || entry.secret) continue;
    const attribute = attributeName(entry.flags);
    known.push(entry.aliases?.[0] ?? attribute);
    for (const name of [attribute, longFlag(entry.flags).slice(2).replace(/^no-/, ''), ...(entry.aliases ?? [])]) byName.set(name, key);
  }
  const parsed: Partial<T> = {};
  for (const [name, value] of Object.entries(record)) {
    const key = byName.get(name) ?? byName.get(camelCase(name));
    const entry = key === undefined ? undefined : entryOf(table, key);
    if (key === undefined || entry === undefined || !isFlagEntry(entry)) {
      throw new VidpipeError('USAGE', `${where}: unknown setting "${name}"`, { hint: `known settings: ${known.join(', ')}` });
    }
    assign(parsed, key, entry.parse(value, { flag: longFlag(entry.flags), key: name, where, from: 'upload' }));
  }
  return parsed;
}

// ---- conversions ---------------------------------------------------------------------------

/** A value error: the flag named, and where the value came from. */
export function invalid(field: Field, message: string, hint?: string): VidpipeError {
  return new VidpipeError('USAGE', `${field.where ? `${field.where}: ` : ''}${field.flag}: ${message}`, hint ? { hint } : {});
}

/** A value of the wrong kind (an upload's JSON): named as the upload wrote it. */
export function wrongType(field: Field, expected: string): VidpipeError {
  if (field.key === undefined) return invalid(field, `must be ${expected}`);
  return new VidpipeError('USAGE', `${field.where ? `${field.where}: ` : ''}"${field.key}" must be ${expected}`);
}

/** Text as typed, or a number an upload wrote as JSON. */
export function text(value: unknown, field: Field): string {
  if (typeof value === 'string' && value.trim() !== '') return value.trim();
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  throw wrongType(field, 'a string or a number');
}

/** A switch: true/false, or the words (object metadata is text). */
export function flag(value: unknown, field: Field): boolean {
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === 'false') return value === 'true';
  throw wrongType(field, 'true or false');
}

export interface NumberRule {
  /** Values must be above this (or at least, with `inclusive`). */
  above: number;
  inclusive?: boolean;
  max?: number;
  integer?: boolean;
  /** How the unit reads in the at-most message ("seconds"). */
  unit?: string;
}

/** A number from text or JSON, within its rule; the message says what was given and what is allowed. */
export function numberOf(rule: NumberRule): Parse<number> {
  return (value, field) => {
    const number = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : Number.NaN;
    const low = rule.inclusive ? number < rule.above : number <= rule.above;
    if (!Number.isFinite(number) || low || (rule.integer && !Number.isInteger(number))) {
      throw invalid(field, `"${String(value)}" is not a ${rule.integer ? 'whole ' : ''}number ${rule.inclusive ? 'of at least' : 'above'} ${rule.above}`);
    }
    if (rule.max !== undefined && number > rule.max) throw invalid(field, `at most ${rule.max}${rule.unit ? ` ${rule.unit}` : ''}`);
    return number;
  };
}

/** One of a few words (case-insensitive), with other spellings mapped to them. */
export function oneOf<const T extends string>(values: readonly T[], aliases: Record<string, T> = {}): Parse<T> {
  return (value, field) => {
    const word = text(value, field).toLowerCase();
    const found = values.find((v) => v === word) ?? aliases[word];
    if (found === undefined) throw invalid(field, `"${String(value)}" is not one of ${values.join(', ')}`);
    return found;
  };
}

/** Comma-separated (text) or a JSON array, each item converted alone. */
export function listOf<T>(item: Parse<T>, options: { empty: string }): Parse<T[]> {
  return (value, field) => {
    const items = Array.isArray(value) ? value : typeof value === 'string' ? value.split(',').map((part) => part.trim()).filter(Boolean) : undefined;
    if (items === undefined) throw wrongType(field, 'a comma-separated list or an array');
    if (items.length === 0) throw invalid(field, options.empty);
    return items.map((entry) => item(entry, field));
  };
}

/** Bit rates in kb/s (`64,128`, `96k`), whole numbers within a range. */
export function kbpsList(min: number, max: number): Parse<number[]> {
  return listOf(
    (value, field) => {
      const kbps = typeof value === 'number' ? value : Number(String(value).trim().replace(/k$/i, ''));
      if (!Number.isInteger(kbps) || kbps < min || kbps > max) throw invalid(field, `"${String(value)}" is not a whole number of kb/s between ${min} and ${max}`);
      return kbps;
    },
    { empty: 'give at least one bit rate in kb/s, e.g. 64,128' },
  );
}

/** `--tag key=value` (repeated) or an upload's `{"key": "value"}`. */
export function tagsOf(value: unknown, field: Field): Record<string, string> {
  if (Array.isArray(value)) {
    const tags: Record<string, string> = {};
    for (const item of value) {
      const entry = String(item);
      const eq = entry.indexOf('=');
      if (eq <= 0) throw invalid(field, `"${entry}" is not key=value`);
      tags[entry.slice(0, eq).trim()] = entry.slice(eq + 1);
    }
    return tags;
  }
  if (value !== null && typeof value === 'object' && Object.values(value).every((v) => typeof v === 'string')) return { ...(value as Record<string, string>) };
  throw wrongType(field, 'an object of strings');
}
