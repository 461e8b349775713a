// keyvault-emulator for Testcontainers for Node.js.
//
//   const kv = await new KeyVaultEmulatorContainer("keyvault-emulator:latest").start();
//   const client = new KeyClient(kv.vaultUrl("default"), kv.credential(), kv.clientOptions());
//
// The container publishes its HTTPS port (vaults, login, management) and its plain-HTTP port
// (managed-identity tokens, /_emulator) on random host ports, on the loopback interface when the
// engine is local. The emulator takes a vault's name, the port of key ids and the challenge's
// resource from the Host header, so the SDKs' challenge check passes on whatever port Docker
// picked. `{vault}.vault.localhost` must resolve to the engine's host (it does with
// systemd-resolved and on macOS; elsewhere add an /etc/hosts line).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AbstractStartedContainer, GenericContainer, getContainerRuntimeClient, Wait } from "testcontainers";

export const HTTPS_PORT = 8443;
export const HTTP_PORT = 8080;
const DOMAIN = "vault.localhost";
const DEFAULT_IDENTITY_HEADER = "keyvault-emulator";
const ADMIN_LINE = /Service principal "admin".*?tenant ([0-9a-f-]{36}), client id ([0-9a-f-]{36}), secret (\S+)/;

export class KeyVaultEmulatorContainer extends GenericContainer {
  /**
   * @param {string} image the keyvault-emulator image (`docker build -f docker/Dockerfile -t ...`)
   * @param {{ config?: string }} [options] `config`: a TOML config file on the host, mounted read-only
   */
  constructor(image = "keyvault-emulator:latest", options = {}) {
    super(image);
    this.withExposedPorts(HTTPS_PORT, HTTP_PORT)
      // State lives in the container and goes with it.
      .withEnvironment({ KVEMU_IN_MEMORY: "true" })
      // The emulator prints `ready` once both ports serve: no sleep, no polling.
      .withWaitStrategy(Wait.forLogMessage(/^ready$/m))
      .withStartupTimeout(60_000);
    if (options.config) {
      this.withBindMounts([{ source: options.config, target: "/etc/kvemu/kvemu.toml", mode: "ro" }]);
      this.withEnvironment({ KVEMU_CONFIG: "/etc/kvemu/kvemu.toml" });
    }
  }

  async beforeContainerCreated() {
    // Random host ports on loopback only when the engine is on this machine: anyone who reaches
    // the plain-HTTP port can mint tokens.
    const client = await getContainerRuntimeClient();
    if (isLoopback(client.info.containerRuntime.host)) {
      for (const port of [HTTPS_PORT, HTTP_PORT]) {
        this.hostConfig.PortBindings[`${port}/tcp`] = [{ HostIp: "127.0.0.1", HostPort: "0" }];
      }
    }
  }

  async start() {
    const started = await super.start();
    const container = new StartedKeyVaultEmulatorContainer(started);
    await container.init();
    return container;
  }
}

export class StartedKeyVaultEmulatorContainer extends AbstractStartedContainer {
  #caPem = "";
  #caDir = "";
  #admin = null;
  #identity = null;

  async init() {
    const response = await fetch(`${this.controlUrl()}/_emulator/ca.pem`);
    if (!response.ok) throw new Error(`GET /_emulator/ca.pem: HTTP ${response.status}`);
    this.#caPem = await response.text();
    const logs = await this.#banner();
    const admin = ADMIN_LINE.exec(logs);
    if (admin) this.#admin = { tenantId: admin[1], clientId: admin[2], secret: admin[3] };
    try {
      this.#identity = await import("@azure/identity");
    } catch {
      this.#identity = null; // credential() explains
    }
  }

  // The banner from the container's log. testcontainers unrefs the log stream's socket, so
  // nothing would keep Node's event loop alive while the first chunks are on their way (the
  // process could end with this promise pending); the time limit's timer keeps it alive.
  async #banner() {
    const stream = await this.logs();
    return new Promise((resolve, reject) => {
      let text = "";
      const finish = (settle) => {
        clearTimeout(timer);
        stream.destroy();
        settle();
      };
      const timer = setTimeout(
        () => finish(() => reject(new Error("keyvault-emulator: no banner in the container's log within 30 s"))),
        30_000,
      );
      stream.on("data", (chunk) => {
        text += chunk;
        if (ADMIN_LINE.test(text) || /^ready$/m.test(text)) finish(() => resolve(text));
      });
      stream.on("end", () => finish(() => resolve(text)));
      stream.on("error", (err) => finish(() => reject(err)));
    });
  }

  async stop(options) {
    if (this.#caDir) rmSync(this.#caDir, { recursive: true, force: true });
    this.#caDir = "";
    return super.stop(options);
  }

  httpsPort() {
    return this.getMappedPort(HTTPS_PORT);
  }

  httpPort() {
    return this.getMappedPort(HTTP_PORT);
  }

  /** `https://{name}.vault.localhost:{port}`: the SDKs' challenge check passes on it. */
  vaultUrl(name = "default") {
    return `https://${name.toLowerCase()}.${DOMAIN}:${this.httpsPort()}`;
  }

  /** The Entra-like login endpoint (AZURE_AUTHORITY_HOST). */
  authorityHost() {
    return `https://localhost:${this.httpsPort()}`;
  }

  /** The plain-HTTP port: managed identity and /_emulator. */
  controlUrl() {
    const host = this.getHost() === "localhost" ? "127.0.0.1" : this.getHost();
    return `http://${host}:${this.httpPort()}`;
  }

  identityEndpoint() {
    return `${this.controlUrl()}/msi/token`;
  }

  caPem() {
    return this.#caPem;
  }

  /** A file holding the CA certificate (removed when the container stops). */
  caFile() {
    if (!this.#caDir) {
      this.#caDir = mkdtempSync(join(tmpdir(), "kvemu-ca-"));
      writeFileSync(join(this.#caDir, "ca.pem"), this.#caPem);
    }
    return join(this.#caDir, "ca.pem");
  }

  /** Options for an Azure SDK client or credential that trust the emulator's CA (and nothing else). */
  clientOptions() {
    return { tlsOptions: { ca: this.#caPem } };
  }

  /**
   * The variables the Azure SDKs read, for a child process: a managed identity (App Service
   * protocol; `identityHeader` picks it) and the CA. NODE_EXTRA_CA_CERTS is read at process start.
   */
  sdkEnv(vault = "default", identityHeader = DEFAULT_IDENTITY_HEADER) {
    const ca = this.caFile();
    return {
      AZURE_KEYVAULT_URL: this.vaultUrl(vault),
      IDENTITY_ENDPOINT: this.identityEndpoint(),
      IDENTITY_HEADER: identityHeader,
      AZURE_POD_IDENTITY_AUTHORITY_HOST: this.controlUrl(),
      AZURE_TENANT_ID: this.#admin?.tenantId ?? "",
      AZURE_AUTHORITY_HOST: this.authorityHost(),
      REQUESTS_CA_BUNDLE: ca,
      NODE_EXTRA_CA_CERTS: ca,
      SSL_CERT_FILE: ca,
    };
  }

  /**
   * A @azure/identity ClientSecretCredential of the built-in service principal `admin` (every key
   * permission on every vault unless the config file says otherwise), signing in at this
   * container's login endpoint and trusting its CA.
   */
  credential() {
    if (!this.#identity) throw new Error("credential() needs @azure/identity: npm install @azure/identity");
    if (!this.#admin) throw new Error("the emulator's banner names no service principal `admin`");
    const { tenantId, clientId, secret } = this.#admin;
    return new this.#identity.ClientSecretCredential(tenantId, clientId, secret, {
      authorityHost: this.authorityHost(),
      disableInstanceDiscovery: true,
      ...this.clientOptions(),
    });
  }
}

function isLoopback(host) {
  if (host === "localhost") return true;
  if (isIP(host) === 4) return host.startsWith("127.");
  return host === "::1";
}
