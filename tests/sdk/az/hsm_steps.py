"""The Azure CLI and a Managed HSM: the admin flow's second key store (issue 19).

Called by admin_flow.py after its vault steps, signed in as the admin service principal:
create an HSM with purge protection, see it refuse key operations until its security domain
is downloaded (three wrapping certificates, quorum 2), restore that domain into a second HSM
with two of the three private keys (and not with one), assign Crypto Service Encryption User
at key scope through the HSM's local RBAC, create an RSA-HSM 3072 key, then show, list,
delete, list-deleted, recover, and a purge refused under purge protection.

The wrapping keys and certificates are made here with `cryptography` (a dependency of
azure-cli, so it is in az's own venv), as a security officer makes them with openssl.
"""

import datetime
import json
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

HSM = "cmkhsm"
RESTORED = "cmkhsm2"
KEY = "cmk-hsm-key"


def make_officer(directory, name):
    """An RSA 2048 key and its self-signed certificate: `{name}.pem` and `{name}.cer`."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"security officer {name}")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    pem = os.path.join(directory, f"{name}.pem")
    cer = os.path.join(directory, f"{name}.cer")
    with open(pem, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    with open(cer, "wb") as f:
        f.write(certificate.public_bytes(serialization.Encoding.PEM))
    return pem, cer


def run(flow, group, location, workdir, app_oid):
    e = flow.emulator
    port = e.https_port
    hsm_uri = f"https://{HSM}.managedhsm.localhost:{port}/"
    expect = flow.expect

    def created(hsm):
        props = hsm["properties"]
        assert hsm["type"] == "Microsoft.KeyVault/managedHSMs" and hsm["sku"]["name"] == "Standard_B1", hsm
        assert props["hsmUri"] == hsm_uri, props
        assert props["initialAdminObjectIds"] == [e.admin_object_id], props
        assert props["enablePurgeProtection"] is True and props["softDeleteRetentionInDays"] == 7, props
        assert props["provisioningState"] == "Succeeded", props
        assert props["securityDomainProperties"]["activationStatus"] == "NotActivated", props

    for name in (HSM, RESTORED):
        flow.step(
            f"keyvault create --hsm-name {name}",
            ["keyvault", "create", "--hsm-name", name, "-g", group, "-l", location,
             "--administrators", e.admin_object_id, "--retention-days", "7",
             "--enable-purge-protection", "true", "-o", "json"],
            created if name == HSM else None,
        )
    flow.step(
        "keyvault check-name --hsm-name (taken)",
        ["keyvault", "check-name", "--name", HSM, "--resource-type", "hsm", "-o", "json"],
        lambda r: expect(r["nameAvailable"] is False and r["reason"] == "AlreadyExists", r),
    )
    flow.step(
        "keyvault key create before activation (refused)",
        ["keyvault", "key", "create", "--hsm-name", HSM, "-n", KEY, "--kty", "RSA-HSM", "--size", "3072"],
        expect_failure="not activated",
    )

    officers = [make_officer(workdir, f"officer{i}") for i in range(3)]
    sd_file = os.path.join(workdir, "sd.json")

    def downloaded(status):
        assert status["status"] in ("Success", "Succeeded"), status
        with open(sd_file) as f:
            domain = json.load(f)
        assert domain["SharedKeys"]["required"] == 2 and len(domain["SharedKeys"]["enc_shares"]) == 3, domain

    flow.step(
        "keyvault security-domain download (3 certificates, quorum 2)",
        ["keyvault", "security-domain", "download", "--hsm-name", HSM,
         "--sd-wrapping-keys", *[cer for _, cer in officers], "--sd-quorum", "2",
         "--security-domain-file", sd_file, "-o", "json"],
        downloaded,
    )
    flow.step(
        "keyvault show --hsm-name (activated)",
        ["keyvault", "show", "--hsm-name", HSM, "-g", group, "-o", "json"],
        lambda hsm: expect(hsm["properties"]["securityDomainProperties"]["activationStatus"] == "Active", hsm),
    )

    exchange = os.path.join(workdir, "exchange.cer")
    flow.step(
        "keyvault security-domain init-recovery (transfer key)",
        ["keyvault", "security-domain", "init-recovery", "--hsm-name", RESTORED, "--sd-exchange-key", exchange],
        lambda _: expect(open(exchange).read().startswith("-----BEGIN CERTIFICATE-----"), {"file": exchange}),
    )
    flow.step(
        "keyvault security-domain upload with one key of a 2-quorum (refused)",
        ["keyvault", "security-domain", "upload", "--hsm-name", RESTORED, "--sd-file", sd_file,
         "--sd-exchange-key", exchange, "--sd-wrapping-keys", officers[1][0]],
        expect_failure="should not less than 2",
    )
    flow.step(
        "keyvault security-domain upload (2 of 3 keys)",
        ["keyvault", "security-domain", "upload", "--hsm-name", RESTORED, "--sd-file", sd_file,
         "--sd-exchange-key", exchange, "--sd-wrapping-keys", officers[2][0], officers[0][0], "-o", "json"],
        lambda status: expect(status["status"] in ("Success", "Succeeded"), status),
    )
    flow.step(
        "keyvault show --hsm-name (restored domain, active)",
        ["keyvault", "show", "--hsm-name", RESTORED, "-g", group, "-o", "json"],
        lambda hsm: expect(hsm["properties"]["securityDomainProperties"]["activationStatus"] == "Active", hsm),
    )

    # The Administrator manages roles, not keys (as in Azure): it gives itself Crypto User.
    flow.step(
        "keyvault role assignment create --hsm-name --scope / (Crypto User for the admin)",
        ["keyvault", "role", "assignment", "create", "--hsm-name", HSM, "--role", "Managed HSM Crypto User",
         "--scope", "/", "--assignee-object-id", e.admin_object_id, "--assignee-principal-type", "ServicePrincipal",
         "-o", "json"],
    )
    kid_prefix = f"https://{HSM}.managedhsm.localhost:{port}/keys/{KEY}/"
    flow.step(
        "keyvault key create --hsm-name (RSA-HSM 3072)",
        ["keyvault", "key", "create", "--hsm-name", HSM, "-n", KEY, "--kty", "RSA-HSM", "--size", "3072", "-o", "json"],
        lambda key: expect(key["key"]["kid"].startswith(kid_prefix) and key["key"]["kty"] == "RSA-HSM"
                           and len(key["key"]["n"]) in (384, 512), key),
    )

    def assigned(assignment):
        assert assignment["principalId"] == app_oid, assignment
        assert assignment["scope"] == f"/keys/{KEY}", assignment
        assert assignment["roleName"] == "Managed HSM Crypto Service Encryption User", assignment

    flow.step(
        "keyvault role assignment create --hsm-name --scope /keys/{name}",
        ["keyvault", "role", "assignment", "create", "--hsm-name", HSM,
         "--role", "Managed HSM Crypto Service Encryption User", "--scope", f"/keys/{KEY}",
         "--assignee-object-id", app_oid, "--assignee-principal-type", "ServicePrincipal", "-o", "json"],
        assigned,
    )
    flow.step(
        "keyvault role assignment list --hsm-name --scope",
        ["keyvault", "role", "assignment", "list", "--hsm-name", HSM, "--scope", f"/keys/{KEY}", "-o", "json"],
        lambda listed: expect([a["principalId"] for a in listed] == [app_oid], listed),
    )

    def names(items):
        return sorted(i["name"] for i in items)

    flow.step(
        "keyvault list --resource-type hsm",
        ["keyvault", "list", "--resource-type", "hsm", "-o", "json"],
        lambda hsms: expect(names(hsms) == [HSM, RESTORED], hsms),
    )
    flow.step("keyvault delete --hsm-name", ["keyvault", "delete", "--hsm-name", RESTORED, "-g", group])
    flow.step(
        "keyvault list-deleted --resource-type hsm",
        ["keyvault", "list-deleted", "--resource-type", "hsm", "-o", "json"],
        lambda deleted: expect(names(deleted) == [RESTORED]
                               and deleted[0]["properties"]["purgeProtectionEnabled"] is True, deleted),
    )
    flow.step(
        "keyvault purge --hsm-name (refused: purge protection)",
        ["keyvault", "purge", "--hsm-name", RESTORED, "-l", location],
        expect_failure="purge protection",
    )
    flow.step(
        "keyvault recover --hsm-name",
        ["keyvault", "recover", "--hsm-name", RESTORED, "-g", group, "-l", location, "-o", "json"],
        lambda hsm: expect(hsm["name"] == RESTORED
                           and hsm["properties"]["securityDomainProperties"]["activationStatus"] == "Active", hsm),
    )
