// Preloaded into the test process (`node --import ./resolve-localhost.mjs --test ...`).
//
// `*.localhost` does not resolve on every machine (getaddrinfo fails for
// default.vault.localhost here), so in THIS process only, names ending in `.localhost`
// are answered with 127.0.0.1. Node's net/tls sockets (and so the http/https agents
// used by the Azure SDK) resolve through `dns.lookup`, read from the dns module at
// connect time, so replacing that property is enough. The URL host is untouched:
// TLS SNI and certificate hostname verification still use the vault name.
import dns from "node:dns";

const LOOPBACK = "127.0.0.1";
const isLocalhostName = (hostname) =>
  typeof hostname === "string" && /\.localhost\.?$/i.test(hostname);

const originalLookup = dns.lookup;

function lookup(hostname, options, callback) {
  if (typeof options === "function") {
    callback = options;
    options = {};
  }
  if (!isLocalhostName(hostname)) {
    return originalLookup.call(dns, hostname, options, callback);
  }
  const opts = typeof options === "number" ? { family: options } : options ?? {};
  process.nextTick(() => {
    if (opts.all) callback(null, [{ address: LOOPBACK, family: 4 }]);
    else callback(null, LOOPBACK, 4);
  });
  return {};
}

dns.lookup = lookup;

const originalPromisesLookup = dns.promises.lookup;
dns.promises.lookup = async function (hostname, options) {
  if (!isLocalhostName(hostname)) return originalPromisesLookup.call(dns.promises, hostname, options);
  const opts = typeof options === "number" ? { family: options } : options ?? {};
  return opts.all ? [{ address: LOOPBACK, family: 4 }] : { address: LOOPBACK, family: 4 };
};
