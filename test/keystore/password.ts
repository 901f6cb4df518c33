import { Password } from '../../src/config/keystore-output.js';
import { HelperError } from '../../src/errors.js';

/** A loaded store password, as loadConfig leaves it, for tests that build outputs by hand. */
export function password(value: string): Password {
  const p = new Password({ variable: 'PASSWORD', fileKey: 'keystore_password_file', envKey: 'keystore_password_env' }, (key, message) => new HelperError('config', `${key}: ${message}`));
  p.load({ PASSWORD: value });
  return p;
}
