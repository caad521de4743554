// Test certificates made at test time with the openssl CLI (node:crypto cannot sign X.509),
// in a temp directory removed with cleanup(): a CA, a server certificate for 127.0.0.1 and
// localhost, client certificates signed by that CA, and a second "rogue" CA whose
// certificates the gateway must not accept. EC P-256 keys, so generating is fast.
//
//   const pki = createTestPki();
//   startTestGateway({ tls: { certFile: pki.server.cert, keyFile: pki.server.key, caFile: pki.ca.cert } });
//   tls.connect({ port, ca: pki.caPem(), ...pki.clientPem('alice') });
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface CertFiles {
  cert: string;
  key: string;
}

export interface TestPki {
  dir: string;
  ca: CertFiles;
  server: CertFiles;
  /** a client certificate with this subject CN, signed by the CA (made on first use) */
  client(cn: string): CertFiles;
  /** a client certificate with this CN signed by a CA the gateway does not trust */
  rogueClient(cn: string): CertFiles;
  caPem(): Buffer;
  /** { cert, key } contents for tls.connect / ws / mqtt.js */
  clientPem(cn: string, rogue?: boolean): { cert: Buffer; key: Buffer };
  cleanup(): void;
}

const DAYS = '2';

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function newKeyAndRequest(dir: string, name: string, subject: string): void {
  openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject], dir);
}

function selfSignedCa(dir: string, name: string, cn: string): CertFiles {
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', DAYS, '-subj', `/CN=${cn}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  return { cert: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`) };
}

function signed(dir: string, ca: CertFiles, name: string, subject: string, extensions: string): CertFiles {
  newKeyAndRequest(dir, name, subject);
  writeFileSync(path.join(dir, `${name}.ext`), extensions);
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', ca.cert, '-CAkey', ca.key, '-set_serial', String(Date.now() + Math.floor(Math.random() * 1e6)),
    '-days', DAYS, '-out', `${name}.crt`, '-extfile', `${name}.ext`], dir);
  return { cert: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`) };
}

export function createTestPki(): TestPki {
  const dir = mkdtempSync(path.join(tmpdir(), 'tributary-pki-'));
  const ca = selfSignedCa(dir, 'ca', 'Tributary Test CA');
  const server = signed(dir, ca, 'server', '/CN=localhost',
    'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n');
  let rogueCa: CertFiles | undefined;
  const made = new Map<string, CertFiles>();
  const clientExt = 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n';
  const fileName = (cn: string) => cn.replace(/[^A-Za-z0-9]/g, '_');
  const pki: TestPki = {
    dir,
    ca,
    server,
    client(cn) {
      const key = `client:${cn}`;
      if (!made.has(key)) made.set(key, signed(dir, ca, `client-${fileName(cn)}`, `/CN=${cn}/O=Tributary tests`, clientExt));
      return made.get(key) as CertFiles;
    },
    rogueClient(cn) {
      const key = `rogue:${cn}`;
      rogueCa ??= selfSignedCa(dir, 'rogue-ca', 'Rogue CA');
      if (!made.has(key)) made.set(key, signed(dir, rogueCa, `rogue-${fileName(cn)}`, `/CN=${cn}`, clientExt));
      return made.get(key) as CertFiles;
    },
    caPem: () => readFileSync(ca.cert),
    clientPem(cn, rogue = false) {
      const files = rogue ? pki.rogueClient(cn) : pki.client(cn);
      return { cert: readFileSync(files.cert), key: readFileSync(files.key) };
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
  return pki;
}
