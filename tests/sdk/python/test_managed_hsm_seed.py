"""The Storage seed's customer-managed-key flow on a Managed HSM (issue 19, item 6), as one test.

Everything through the official SDKs, as provisioning code against Azure does it:
azure-mgmt-keyvault for the HSM resource, azure-keyvault-securitydomain to activate it,
azure-keyvault-keys to create and rotate the key, azure-keyvault-administration for the HSM's
local RBAC, and CryptographyClient under a user-assigned identity's token for wrap/unwrap:

  1. the admin creates an HSM with purge protection and activates it (security domain
     download to three wrapping certificates, quorum 2); before that, key creation is refused;
  2. it creates an RSA-HSM 3072 key;
  3. it assigns Managed HSM Crypto Service Encryption User at the key's scope to a
     user-assigned identity;
  4. the identity wraps and unwraps;
  5. the key is rotated, and the old version still unwraps;
  6. the assignment is removed, and the next unwrap is 403;
  7. the HSM is deleted (purge refused under purge protection) and recovered, key included.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import os

import pytest
from azure.core.exceptions import HttpResponseError
from azure.keyvault.administration import KeyVaultAccessControlClient
from azure.keyvault.keys import KeyClient
from azure.keyvault.keys.crypto import CryptographyClient, KeyWrapAlgorithm
from azure.keyvault.securitydomain import SecurityDomainClient
from azure.keyvault.securitydomain.models import CertificateInfo, SecurityDomainJsonWebKey
from azure.mgmt.keyvault.models import ManagedHsm, ManagedHsmProperties, ManagedHsmSku
from azure.mgmt.msi.v2024_11_30.models import Identity as UserAssignedIdentity
from azure.mgmt.resource.resources.models import ResourceGroup
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from test_management import LOCATION, _identity_credential, _unique, arm, clean_identity_env  # noqa: F401

WRAP = KeyWrapAlgorithm.rsa_oaep_256
SERVICE_ENCRYPTION_USER = "Managed HSM Crypto Service Encryption User"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _wrapping_certificate(index: int) -> SecurityDomainJsonWebKey:
    """A security officer's certificate as the download request carries it (a JWK with x5c)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"officer {index}")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256())
    )
    der = certificate.public_bytes(serialization.Encoding.DER)
    numbers = key.public_key().public_numbers()
    return SecurityDomainJsonWebKey(
        kid=f"officer-{index}",
        kty="RSA",
        key_ops=["verify", "encrypt", "wrapKey"],
        n=_b64url(numbers.n.to_bytes(256, "big")),
        e=_b64url(numbers.e.to_bytes(3, "big")),
        x5_c=[base64.b64encode(der).decode()],
        x5_t=_b64url(hashlib.sha1(der).digest()),
        x5_t_s256=_b64url(hashlib.sha256(der).digest()),
        alg="RSA-OAEP-256",
    )


def test_storage_seed_flow_on_a_managed_hsm(arm, clean_identity_env):  # noqa: F811
    group, name, key_name = _unique("hsm-rg"), _unique("hsm")[:24], "storage-cmk"
    arm.resources.resource_groups.create_or_update(group, ResourceGroup(location=LOCATION))
    hsm_uri = f"https://{name}.managedhsm.localhost:{arm.https_port}/"

    # 1. an HSM with purge protection, not active until its security domain is downloaded
    hsm = arm.keyvault.managed_hsms.begin_create_or_update(
        group,
        name,
        ManagedHsm(
            location=LOCATION,
            sku=ManagedHsmSku(family="B", name="Standard_B1"),
            properties=ManagedHsmProperties(
                tenant_id=arm.tenant_id,
                initial_admin_object_ids=[arm.admin["objectId"]],
                enable_purge_protection=True,
                soft_delete_retention_in_days=7,
            ),
        ),
    ).result()
    assert hsm.properties.hsm_uri == hsm_uri
    assert hsm.properties.security_domain_properties.activation_status == "NotActivated"
    keys = KeyClient(hsm_uri, arm.credential)
    with pytest.raises(HttpResponseError) as refused:
        keys.create_rsa_key(key_name, size=3072, hardware_protected=True)
    assert "not activated" in refused.value.message.lower(), refused.value.message

    security_domain = SecurityDomainClient(hsm_uri, arm.credential)
    downloaded = security_domain.begin_download(
        CertificateInfo(certificates=[_wrapping_certificate(i) for i in range(3)], required=2)
    ).result()
    assert '"shamir_share"' in downloaded.value
    assert security_domain.get_download_status().status in ("Success", "Succeeded")
    activated = arm.keyvault.managed_hsms.get(group, name)
    assert activated.properties.security_domain_properties.activation_status == "Active"

    # 2. an RSA-HSM 3072 key: the Administrator manages roles, not keys (as in Azure), so it
    #    gives itself Crypto User (key create and use) first
    access = KeyVaultAccessControlClient(hsm_uri, arm.credential)
    roles = {d.role_name: d for d in access.list_role_definitions("/")}
    access.create_role_assignment("/", roles["Managed HSM Crypto User"].id, arm.admin["objectId"])
    key = keys.create_rsa_key(key_name, size=3072, hardware_protected=True)
    assert key.key_type == "RSA-HSM" and len(key.key.n) == 384 and key.id.startswith(hsm_uri)

    # 3. Crypto Service Encryption User at the key's scope, for a user-assigned identity
    identity = arm.msi.user_assigned_identities.create_or_update(
        group, _unique("storage-id"), UserAssignedIdentity(location=LOCATION)
    )
    scope = f"/keys/{key_name}"
    assignment = access.create_role_assignment(scope, roles[SERVICE_ENCRYPTION_USER].id, identity.principal_id)
    assert assignment.properties.scope == scope

    # 4. the identity wraps and unwraps
    as_identity = _identity_credential(identity.client_id)
    data_key = os.urandom(32)
    first = CryptographyClient(key.id, as_identity)
    wrapped_v1 = first.wrap_key(WRAP, data_key).encrypted_key
    assert first.unwrap_key(WRAP, wrapped_v1).key == data_key

    # 5. rotation: the new version wraps, the old one still unwraps
    rotated = keys.rotate_key(key_name)
    assert rotated.properties.version != key.properties.version
    wrapped_v2 = CryptographyClient(rotated.id, as_identity).wrap_key(WRAP, data_key).encrypted_key
    assert CryptographyClient(rotated.id, as_identity).unwrap_key(WRAP, wrapped_v2).key == data_key
    assert first.unwrap_key(WRAP, wrapped_v1).key == data_key

    # 6. the assignment is removed: the next unwrap is a 403
    access.delete_role_assignment(scope, assignment.name)
    with pytest.raises(HttpResponseError) as forbidden:
        first.unwrap_key(WRAP, wrapped_v1)
    assert forbidden.value.status_code == 403, forbidden.value.message

    # 7. delete (purge refused: purge protection) and recover, keys included
    arm.keyvault.managed_hsms.begin_delete(group, name).result()
    deleted = arm.keyvault.managed_hsms.get_deleted(name, LOCATION)
    assert deleted.properties.purge_protection_enabled is True
    with pytest.raises(HttpResponseError) as purge:
        arm.keyvault.managed_hsms.begin_purge_deleted(name, LOCATION).result()
    assert purge.value.status_code == 409, purge.value.message
    recovered = arm.keyvault.managed_hsms.begin_create_or_update(
        group,
        name,
        ManagedHsm(
            location=LOCATION,
            sku=ManagedHsmSku(family="B", name="Standard_B1"),
            properties=ManagedHsmProperties(tenant_id=arm.tenant_id, create_mode="recover"),
        ),
    ).result()
    assert recovered.properties.security_domain_properties.activation_status == "Active"
    assert keys.get_key(key_name).id == rotated.id
