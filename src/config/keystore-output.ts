import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';
import { HelperError } from '../errors.js';
import { redactFromLogs } from '../log.js';
import { whyUnreadable } from '../read-text.js';
import type { TopLevelReader } from './keys.js';
import type { OneOf, TOP_LEVEL_KEYS } from './schema.js';

/**
 * The keystore keys: PKCS#12 stores for JVM servers, written with the X.509 files
 * (docs/keystores.md). Passwords come from a file or an environment variable, never from the
 * config text, and are read once, by loadConfig, so that a missing one is a config error at
 * start-up.
 */
export interface StoreOutputs {
  keystore?: { fileName: string; alias: string; password: Password };
  truststore?: { fileName: string; password: Password; includeFederatedDomains: boolean };
  format: KeystoreFormat;
}

/** `pkcs12`: AES-256 and an HMAC-SHA-256 MAC (Java 12+, 11.0.12+, 8u301+); `pkcs12-legacy`: 3DES and HMAC-SHA-1 (every JVM). */
export type KeystoreFormat = OneOf<typeof TOP_LEVEL_KEYS, 'keystore_format'>;

/** Every key read here: set without a store, each is an error rather than silently unused. */
const STORE_KEYS = [
  'keystore_alias',
  'keystore_password_file',
  'keystore_password_env',
  'keystore_format',
  'truststore_password_file',
  'truststore_password_env',
  'truststore_include_federated_domains',
] as const;

/**
 * A store's password: where it comes from, named by the config, and (once loadConfig has read
 * it) its value. Parsing a config reads no secret; loading it does, so a missing password
 * file is still a config error before anything is written. What logs, JSON and util.inspect
 * print of it is where it came from, never the value.
 */
export class Password {
  #value: string | undefined;

  constructor(
    private readonly keys: { file?: string; variable?: string; fileKey: PasswordFileKey; envKey: PasswordEnvKey },
    /** The config's error for a key: file, line (or SPIFFE_HELPER_* variable) and key. */
    private readonly fail: (key: string, message: string) => HelperError,
  ) {}

  /** Reads the file or the variable; throws a config error naming the key and the file or variable. */
  load(env: NodeJS.ProcessEnv): void {
    const { file, variable, fileKey, envKey } = this.keys;
    if (file !== undefined && variable !== undefined) throw this.fail(envKey, `and ${fileKey} are both set: set one`);
    let password: string;
    if (file !== undefined) {
      try {
        password = readPasswordFile(file);
      } catch (e) {
        throw this.fail(fileKey, `${file}: ${(e as Error).message}`);
      }
    } else {
      const value = env[variable!];
      if (value === undefined || value === '') throw this.fail(envKey, `names the environment variable ${variable}, which is ${value === undefined ? 'not set' : 'empty'}`);
      password = value;
    }
    // Java's PBE keys take printable ASCII only: keytool 17 cannot open a store with another password (docs/keystores.md).
    if (!/^[\x20-\x7e]+$/.test(password)) {
      throw this.fail(file !== undefined ? fileKey : envKey, `${file ?? variable}: the password must be printable ASCII (space to ~), the only passwords every JVM can open a PKCS#12 store with`);
    }
    this.#value = password;
    // A second line of defence: an error that quotes it (from a library, say) is logged without it.
    redactFromLogs(password);
  }

  reveal(): string {
    if (this.#value === undefined) throw new HelperError('internal', `${this.toString()} was not loaded`);
    return this.#value;
  }

  toString(): string {
    const { file, variable, fileKey, envKey } = this.keys;
    return `[password from ${file !== undefined ? `${fileKey} ${file}` : `${envKey} ${variable}`}]`;
  }

  toJSON(): string {
    return this.toString();
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }
}

/** Reads the stores' passwords (loadConfig does, once the config has parsed). */
export function loadStorePasswords(stores: StoreOutputs | undefined, env: NodeJS.ProcessEnv): void {
  for (const password of new Set([stores?.keystore?.password, stores?.truststore?.password])) password?.load(env);
}

export function readStores(r: TopLevelReader): StoreOutputs | undefined {
  const keystoreFile = r.fileName('keystore_file_name');
  const truststoreFile = r.fileName('truststore_file_name');
  const aliasSet = r.has('keystore_alias');
  const alias = r.nonEmptyString('keystore_alias');
  const format = r.oneOf('keystore_format');
  const includeFederated = r.bool('truststore_include_federated_domains');
  const keystorePassword = readPassword(r, 'keystore_password_file', 'keystore_password_env');
  const truststorePassword = readPassword(r, 'truststore_password_file', 'truststore_password_env');
  if (keystoreFile === undefined && truststoreFile === undefined) {
    const stray = STORE_KEYS.find((k) => r.has(k));
    if (stray) throw r.error(stray, 'is set but neither keystore_file_name nor truststore_file_name is');
    return undefined;
  }
  // keystore_password_* alone may serve a truststore (its default password); the alias may not.
  if (keystoreFile === undefined && aliasSet) throw r.error('keystore_alias', 'is set but keystore_file_name is not');
  if (truststoreFile === undefined) {
    for (const k of ['truststore_password_file', 'truststore_password_env', 'truststore_include_federated_domains'] as const) {
      if (r.has(k)) throw r.error(k, 'is set but truststore_file_name is not');
    }
  }
  if (keystoreFile !== undefined && truststoreFile === keystoreFile)
    throw r.error('truststore_file_name', 'must differ from keystore_file_name: a JVM takes the key and the trusted CAs as two stores');
  const stores: StoreOutputs = { format };
  if (keystoreFile !== undefined) {
    if (!keystorePassword) throw r.error('keystore_password_file', 'is required with keystore_file_name (or keystore_password_env): the password is never written in the config');
    stores.keystore = { fileName: keystoreFile, alias, password: keystorePassword };
  }
  if (truststoreFile !== undefined) {
    // The same password as the keystore's unless the truststore has its own, as JVM servers are often configured.
    const password = truststorePassword ?? keystorePassword;
    if (!password) throw r.error('truststore_password_file', 'is required with truststore_file_name (or truststore_password_env, or keystore_password_file for both stores)');
    stores.truststore = { fileName: truststoreFile, password, includeFederatedDomains: includeFederated };
  }
  return stores;
}

type PasswordFileKey = 'keystore_password_file' | 'truststore_password_file';
type PasswordEnvKey = 'keystore_password_env' | 'truststore_password_env';

function readPassword(r: TopLevelReader, fileKey: PasswordFileKey, envKey: PasswordEnvKey): Password | undefined {
  const file = r.nonEmptyString(fileKey);
  const variable = r.nonEmptyString(envKey);
  if (file === undefined && variable === undefined) return undefined;
  return new Password({ file, variable, fileKey, envKey }, (key, message) => r.error(key, message));
}

/**
 * The password in a file, without the one trailing newline `echo secret > file` adds. Throws
 * an Error saying why in a few words: unreadable, not a regular file (reading a FIFO or a
 * terminal would block the start-up), or empty.
 */
export function readPasswordFile(path: string): string {
  let text: string;
  try {
    const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      if (!fstatSync(fd).isFile()) throw new Error('not a regular file');
      text = readFileSync(fd, 'utf8');
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    throw new Error(`cannot read the password: ${whyUnreadable(e)}`, { cause: e });
  }
  const password = text.replace(/\r?\n$/, '');
  if (password === '') throw new Error('the password file is empty');
  return password;
}
