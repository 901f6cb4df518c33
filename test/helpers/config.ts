/** The smallest complete X.509 config, the starting point of config tests. */
export const baseConfigToml = `
agent_address = "/run/spire/sockets/agent.sock"
cert_dir = "certs"
svid_file_name = "svid.pem"
svid_key_file_name = "svid_key.pem"
svid_bundle_file_name = "bundle.pem"
`;
