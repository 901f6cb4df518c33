/**
 * The helper's version, for `--version` and `spiffe_helper_build_info`. It must equal
 * package.json's (a test checks); the bundle is shipped without package.json, so it is a
 * constant here until the build writes it.
 */
export const VERSION = '0.1.0';
