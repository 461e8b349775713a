//! The official Rust SDK (`azure_security_keyvault_keys`) against the emulator with default
//! client settings: challenge-resource verification on, TLS verification on. Over 400 lines:
//! one scenario per client area (keys, crypto, rotation, backup), each read alone.

use azure_core::http::RequestContent;
use azure_security_keyvault_keys::ResourceExt;
use azure_security_keyvault_keys::models::{
    CreateKeyParameters, CurveName, EncryptionAlgorithm, KeyClientDecryptOptions, KeyClientGetKeyOptions,
    KeyClientUnwrapKeyOptions, KeyClientWrapKeyOptions, KeyOperationParameters, KeyType,
};
use futures::TryStreamExt;

use crate::helpers::spawn;

fn create_rsa(size: i32) -> RequestContent<CreateKeyParameters> {
    CreateKeyParameters { kty: Some(KeyType::Rsa), key_size: Some(size), ..Default::default() }.try_into().unwrap()
}

fn wrap_params(alg: EncryptionAlgorithm, value: Vec<u8>) -> RequestContent<KeyOperationParameters> {
    KeyOperationParameters { algorithm: Some(alg), value: Some(value), ..Default::default() }.try_into().unwrap()
}

#[tokio::test]
async fn sdk_create_get_list_version_wrap_unwrap() {
    let vault = spawn().await;
    let client = vault.key_client();

    // create
    let key = client.create_key("cmk", create_rsa(2048), None).await.unwrap().into_model().unwrap();
    let jwk = key.key.as_ref().unwrap();
    assert_eq!(jwk.kty, Some(KeyType::Rsa));
    assert_eq!(jwk.n.as_ref().unwrap().len(), 256);
    assert_eq!(jwk.e.as_deref(), Some(&[1u8, 0, 1][..]));
    let first_version = key.resource_id().unwrap().version.unwrap();

    // get, latest and by version
    let latest = client.get_key("cmk", None).await.unwrap().into_model().unwrap();
    assert_eq!(latest.key.as_ref().unwrap().kid, jwk.kid);
    let options = KeyClientGetKeyOptions { key_version: Some(first_version.clone()), ..Default::default() };
    let by_version = client.get_key("cmk", Some(options)).await.unwrap().into_model().unwrap();
    assert_eq!(by_version.key.as_ref().unwrap().n, jwk.n);

    // a new version becomes current; both versions list
    let second = client.create_key("cmk", create_rsa(2048), None).await.unwrap().into_model().unwrap();
    let second_version = second.resource_id().unwrap().version.unwrap();
    assert_ne!(first_version, second_version);
    let latest = client.get_key("cmk", None).await.unwrap().into_model().unwrap();
    assert_eq!(latest.resource_id().unwrap().version.unwrap(), second_version);
    let versions: Vec<_> = client.list_key_properties_versions("cmk", None).unwrap().try_collect().await.unwrap();
    assert_eq!(versions.len(), 2);

    // list keys
    let ec = CreateKeyParameters { kty: Some(KeyType::Ec), curve: Some(CurveName::P256), ..Default::default() };
    client.create_key("signing", ec.try_into().unwrap(), None).await.unwrap();
    let keys: Vec<_> = client.list_key_properties(None).unwrap().try_collect().await.unwrap();
    let mut names: Vec<String> = keys.iter().map(|k| k.resource_id().unwrap().name).collect();
    names.sort();
    assert_eq!(names, ["cmk", "signing"]);

    // wrap/unwrap a data key with the first (non-current) version
    let data_key = vec![0x5a; 32];
    let wrap_options = KeyClientWrapKeyOptions { key_version: Some(first_version.clone()), ..Default::default() };
    let wrapped = client
        .wrap_key("cmk", wrap_params(EncryptionAlgorithm::RsaOaep256, data_key.clone()), Some(wrap_options))
        .await
        .unwrap()
        .into_model()
        .unwrap();
    assert!(wrapped.kid.as_ref().unwrap().ends_with(&format!("/keys/cmk/{first_version}")));
    let unwrap_options = KeyClientUnwrapKeyOptions::default();
    let unwrapped = client
        .unwrap_key(
            "cmk",
            &first_version,
            wrap_params(EncryptionAlgorithm::RsaOaep256, wrapped.result.unwrap()),
            Some(unwrap_options),
        )
        .await
        .unwrap()
        .into_model()
        .unwrap();
    assert_eq!(unwrapped.result.unwrap(), data_key);
}

#[tokio::test]
async fn sdk_decrypts_rsa_oaep_256_ciphertext_made_from_the_public_key() {
    use aws_lc_rs::rsa::{OAEP_SHA256_MGF1SHA256, OaepPublicEncryptingKey, PublicEncryptingKey, PublicKeyComponents};

    let vault = spawn().await;
    let client = vault.key_client();
    let key = client.create_key("cmk", create_rsa(3072), None).await.unwrap().into_model().unwrap();
    let version = key.resource_id().unwrap().version.unwrap();
    let jwk = key.key.unwrap();
    let (n, e) = (jwk.n.unwrap(), jwk.e.unwrap());

    let public: PublicEncryptingKey = PublicKeyComponents { n: n.as_slice(), e: e.as_slice() }.try_into().unwrap();
    let public = OaepPublicEncryptingKey::new(public).unwrap();
    let secret = b"customer data encryption key 256";
    let mut ciphertext = vec![0u8; public.ciphertext_size()];
    let ciphertext = public.encrypt(&OAEP_SHA256_MGF1SHA256, secret, &mut ciphertext, None).unwrap().to_vec();

    let result = client
        .decrypt(
            "cmk",
            &version,
            wrap_params(EncryptionAlgorithm::RsaOaep256, ciphertext),
            Some(KeyClientDecryptOptions::default()),
        )
        .await
        .unwrap()
        .into_model()
        .unwrap();
    assert_eq!(result.result.unwrap(), secret);
}

#[tokio::test]
async fn sdk_reports_a_missing_key_as_404() {
    let vault = spawn().await;
    let err = vault.key_client().get_key("missing", None).await.unwrap_err();
    assert_eq!(err.http_status(), Some(azure_core::http::StatusCode::NotFound), "{err}");
}

#[tokio::test]
async fn sdk_soft_delete_recover_and_purge_protection() {
    use keyvault_emulator::Config;
    use keyvault_emulator::vaults::VaultSettings;

    let mut config = Config::in_memory();
    config.vaults.push(VaultSettings::parse("protected:retention-days=7:purge-protection").unwrap());
    let vault = crate::helpers::spawn_with(config).await;
    for (vault_name, retention_days, protected) in [("default", 90, false), ("protected", 7, true)] {
        let client = vault.key_client_for(vault_name);
        let key = client.create_key("cmk", create_rsa(2048), None).await.unwrap().into_model().unwrap();
        let version = key.resource_id().unwrap().version.unwrap();
        let data_key = vec![0x42; 32];
        let wrap_options = KeyClientWrapKeyOptions { key_version: Some(version.clone()), ..Default::default() };
        let wrapped = client
            .wrap_key("cmk", wrap_params(EncryptionAlgorithm::RsaOaep256, data_key.clone()), Some(wrap_options))
            .await
            .unwrap()
            .into_model()
            .unwrap();

        let deleted = client.delete_key("cmk", None).await.unwrap().into_model().unwrap();
        assert_eq!(
            deleted.recovery_id.as_deref(),
            Some(format!("{}/deletedkeys/cmk", vault.emulator.vault_url(vault_name)).as_str())
        );
        let retention = deleted.scheduled_purge_date.unwrap() - deleted.deleted_date.unwrap();
        assert_eq!(retention.whole_days(), retention_days);
        let fetched = client.get_deleted_key("cmk", None).await.unwrap().into_model().unwrap();
        assert_eq!(fetched.key.unwrap().kid, key.key.as_ref().unwrap().kid);
        let listed: Vec<_> = client.list_deleted_key_properties(None).unwrap().try_collect().await.unwrap();
        assert_eq!(listed.len(), 1);
        let err = client.get_key("cmk", None).await.unwrap_err();
        assert_eq!(err.http_status(), Some(azure_core::http::StatusCode::NotFound));

        let recovered = client.recover_deleted_key("cmk", None).await.unwrap().into_model().unwrap();
        assert_eq!(recovered.key.unwrap().kid, key.key.as_ref().unwrap().kid);
        let unwrapped = client
            .unwrap_key("cmk", &version, wrap_params(EncryptionAlgorithm::RsaOaep256, wrapped.result.unwrap()), None)
            .await
            .unwrap()
            .into_model()
            .unwrap();
        assert_eq!(unwrapped.result.unwrap(), data_key);

        client.delete_key("cmk", None).await.unwrap();
        let purge = client.purge_deleted_key("cmk", None).await;
        if protected {
            assert_eq!(purge.unwrap_err().http_status(), Some(azure_core::http::StatusCode::Forbidden));
        } else {
            purge.unwrap();
            let err = client.get_deleted_key("cmk", None).await.unwrap_err();
            assert_eq!(err.http_status(), Some(azure_core::http::StatusCode::NotFound));
        }
    }
}

#[tokio::test]
async fn sdk_signs_and_verifies_with_rsa_and_ec_keys() {
    use azure_security_keyvault_keys::models::{SignParameters, SignatureAlgorithm, VerifyParameters};

    let vault = spawn().await;
    let client = vault.key_client();
    let ec = CreateKeyParameters { kty: Some(KeyType::Ec), curve: Some(CurveName::P256K), ..Default::default() };
    client.create_key("ec", ec.try_into().unwrap(), None).await.unwrap();
    client.create_key("rsa", create_rsa(2048), None).await.unwrap();
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b"message").as_ref().to_vec();
    for (name, algorithm) in [("ec", SignatureAlgorithm::Es256K), ("rsa", SignatureAlgorithm::Ps256)] {
        let params = SignParameters { algorithm: Some(algorithm.clone()), value: Some(digest.clone()) };
        let signed = client.sign(name, params.try_into().unwrap(), None).await.unwrap().into_model().unwrap();
        let version = signed.kid.as_deref().unwrap().rsplit('/').next().unwrap().to_owned();
        let mut signature = signed.result.unwrap();
        for expected in [true, false] {
            let params = VerifyParameters {
                algorithm: Some(algorithm.clone()),
                digest: Some(digest.clone()),
                signature: Some(signature.clone()),
            };
            let verified =
                client.verify(name, &version, params.try_into().unwrap(), None).await.unwrap().into_model().unwrap();
            assert_eq!(verified.value, Some(expected), "{name}");
            signature[0] ^= 1;
        }
    }
}

#[tokio::test]
async fn sdk_imports_an_rsa_key_and_never_gets_private_members_back() {
    use azure_security_keyvault_keys::models::{ImportKeyParameters, JsonWebKey};
    use keyvault_emulator::crypto::base64url;

    let vault = spawn().await;
    let client = vault.key_client();
    let spec = crate::import::spec_rsa_jwk();
    let member = |name: &str| Some(base64url::decode(spec[name].as_str().unwrap()).unwrap());
    let jwk = JsonWebKey {
        kty: Some(KeyType::Rsa),
        n: member("n"),
        e: member("e"),
        d: member("d"),
        p: member("p"),
        q: member("q"),
        dp: member("dp"),
        dq: member("dq"),
        qi: member("qi"),
        ..Default::default()
    };
    let params = ImportKeyParameters { key: Some(jwk), hsm: Some(true), ..Default::default() };
    let imported = client.import_key("byok", params.try_into().unwrap(), None).await.unwrap().into_model().unwrap();
    let key = imported.key.unwrap();
    assert_eq!(key.kty, Some(KeyType::RsaHsm));
    assert_eq!(key.n, member("n"));
    assert!(key.d.is_none() && key.p.is_none() && key.q.is_none());
}

#[tokio::test]
async fn sdk_backs_up_and_restores_after_purge() {
    use azure_security_keyvault_keys::models::RestoreKeyParameters;

    let vault = spawn().await;
    let client = vault.key_client();
    let created = client.create_key("cmk", create_rsa(2048), None).await.unwrap().into_model().unwrap();
    let backup = client.backup_key("cmk", None).await.unwrap().into_model().unwrap().value.unwrap();
    client.delete_key("cmk", None).await.unwrap();
    client.purge_deleted_key("cmk", None).await.unwrap();

    let params = RestoreKeyParameters { key_backup: Some(backup.clone()) };
    let restored = client.restore_key(params.try_into().unwrap(), None).await.unwrap().into_model().unwrap();
    assert_eq!(restored.key.unwrap().kid, created.key.unwrap().kid);

    let params = RestoreKeyParameters { key_backup: Some(backup) };
    let err = client.restore_key(params.try_into().unwrap(), None).await.unwrap_err();
    assert_eq!(err.http_status(), Some(azure_core::http::StatusCode::Conflict));
}

#[tokio::test]
async fn sdk_rotation_policy_manual_and_automatic_rotation_keep_old_versions_unwrapping() {
    use azure_security_keyvault_keys::models::{
        KeyRotationPolicy, KeyRotationPolicyAction, KeyRotationPolicyAttributes, LifetimeAction, LifetimeActionTrigger,
        LifetimeActionType,
    };

    let vault = spawn().await;
    let client = vault.key_client();
    let first = client.create_key("cmk", create_rsa(2048), None).await.unwrap().into_model().unwrap();
    let first_version = first.resource_id().unwrap().version.unwrap();
    let data_key = vec![0x11; 32];
    let wrapped = client
        .wrap_key("cmk", wrap_params(EncryptionAlgorithm::RsaOaep256, data_key.clone()), None)
        .await
        .unwrap()
        .into_model()
        .unwrap()
        .result
        .unwrap();

    let policy = KeyRotationPolicy {
        lifetime_actions: Some(vec![LifetimeAction {
            action: Some(LifetimeActionType { type_prop: Some(KeyRotationPolicyAction::Rotate) }),
            trigger: Some(LifetimeActionTrigger { time_after_create: Some("P30D".into()), ..Default::default() }),
        }]),
        attributes: Some(KeyRotationPolicyAttributes { expiry_time: Some("P90D".into()), ..Default::default() }),
        ..Default::default()
    };
    let stored =
        client.update_key_rotation_policy("cmk", policy.try_into().unwrap(), None).await.unwrap().into_model().unwrap();
    let actions = stored.lifetime_actions.unwrap();
    assert_eq!(actions.len(), 2, "the service appends a Notify action");
    assert_eq!(actions[1].action.as_ref().unwrap().type_prop, Some(KeyRotationPolicyAction::Notify));
    let fetched = client.get_key_rotation_policy("cmk", None).await.unwrap().into_model().unwrap();
    assert_eq!(fetched.attributes.unwrap().expiry_time.as_deref(), Some("P90D"));

    // Manual rotation: same type and size, expiry from the policy.
    let rotated = client.rotate_key("cmk", None).await.unwrap().into_model().unwrap();
    let attributes = rotated.attributes.as_ref().unwrap();
    let lifetime = attributes.expires.unwrap() - attributes.created.unwrap();
    assert_eq!(lifetime.whole_days(), 90);
    assert_eq!(rotated.key.as_ref().unwrap().n.as_ref().unwrap().len(), 256);

    // Automatic rotation once the emulator clock passes timeAfterCreate.
    let done = vault.emulator.advance_clock(31 * 86_400).await.unwrap();
    assert_eq!(done.rotated, 1);
    let versions: Vec<_> = client.list_key_properties_versions("cmk", None).unwrap().try_collect().await.unwrap();
    assert_eq!(versions.len(), 3);

    // A data key wrapped under version 1 still unwraps after two rotations.
    let unwrapped = client
        .unwrap_key("cmk", &first_version, wrap_params(EncryptionAlgorithm::RsaOaep256, wrapped), None)
        .await
        .unwrap()
        .into_model()
        .unwrap();
    assert_eq!(unwrapped.result.unwrap(), data_key);
}

#[tokio::test]
async fn sdk_oct_keys_wrap_and_encrypt_with_aes_and_draw_random_bytes() {
    use azure_security_keyvault_keys::models::GetRandomBytesParameters;

    let vault = spawn().await;
    let client = vault.key_client();
    let oct = CreateKeyParameters { kty: Some(KeyType::OctHsm), key_size: Some(256), ..Default::default() };
    let key = client.create_key("aes", oct.try_into().unwrap(), None).await.unwrap().into_model().unwrap();
    assert_eq!(key.key.as_ref().unwrap().kty, Some(KeyType::OctHsm));
    assert!(key.key.as_ref().unwrap().k.is_none(), "no key material is returned");
    let version = key.resource_id().unwrap().version.unwrap();

    let wrapped = client
        .wrap_key("aes", wrap_params(EncryptionAlgorithm::A256Kw, vec![7; 32]), None)
        .await
        .unwrap()
        .into_model()
        .unwrap();
    let unwrapped = client
        .unwrap_key("aes", &version, wrap_params(EncryptionAlgorithm::A256Kw, wrapped.result.unwrap()), None)
        .await
        .unwrap()
        .into_model()
        .unwrap();
    assert_eq!(unwrapped.result.unwrap(), vec![7; 32]);

    let encrypt = KeyOperationParameters {
        algorithm: Some(EncryptionAlgorithm::A256Gcm),
        value: Some(b"plaintext".to_vec()),
        additional_authenticated_data: Some(b"context".to_vec()),
        ..Default::default()
    };
    let sealed = client.encrypt("aes", encrypt.try_into().unwrap(), None).await.unwrap().into_model().unwrap();
    let decrypt = KeyOperationParameters {
        algorithm: Some(EncryptionAlgorithm::A256Gcm),
        value: sealed.result,
        iv: sealed.iv,
        authentication_tag: sealed.authentication_tag,
        additional_authenticated_data: Some(b"context".to_vec()),
    };
    let opened =
        client.decrypt("aes", &version, decrypt.try_into().unwrap(), None).await.unwrap().into_model().unwrap();
    assert_eq!(opened.result.unwrap(), b"plaintext");

    let random = GetRandomBytesParameters { count: Some(64) };
    let bytes = client.get_random_bytes(random.try_into().unwrap(), None).await.unwrap().into_model().unwrap();
    assert_eq!(bytes.value.unwrap().len(), 64);
}

#[tokio::test]
async fn sdk_releases_an_exportable_key_and_gets_its_attestation() {
    use azure_security_keyvault_keys::models::{
        KeyAttributes, KeyClientGetKeyAttestationOptions, KeyClientReleaseOptions, KeyEncryptionAlgorithm,
        KeyReleasePolicy, ReleaseParameters,
    };

    let vault = spawn().await;
    let client = vault.key_client();
    let authority = format!("{}/attestation", vault.vault_url());
    let document = serde_json::json!({"version": "1.0.0", "anyOf": [{"authority": authority, "allOf": [{"claim": "sdk-test", "equals": "true"}]}]});
    let create = CreateKeyParameters {
        kty: Some(KeyType::RsaHsm),
        key_attributes: Some(KeyAttributes { exportable: Some(true), ..Default::default() }),
        release_policy: Some(KeyReleasePolicy {
            encoded_policy: Some(document.to_string().into_bytes()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let key = client.create_key("skr", create.try_into().unwrap(), None).await.unwrap().into_model().unwrap();
    let policy = key.release_policy.unwrap();
    assert_eq!(policy.immutable, Some(false));
    assert!(String::from_utf8(policy.encoded_policy.unwrap()).unwrap().starts_with(r#"{"version":"1.0.0""#));

    let (_, minted) = vault.call(reqwest::Method::GET, "/attestation/generate-test-token", None).await;
    let release = ReleaseParameters {
        target_attestation_token: minted["token"].as_str().map(str::to_owned),
        algorithm: Some(KeyEncryptionAlgorithm::RsaAesKeyWrap384),
        nonce: Some("nonce".into()),
    };
    // No version: the SDK sends `/keys/skr//release`.
    let options = KeyClientReleaseOptions::default();
    let released =
        client.release("skr", release.try_into().unwrap(), Some(options)).await.unwrap().into_model().unwrap();
    let jws = released.value.unwrap();
    assert_eq!(jws.split('.').count(), 3);

    let version = key.key.as_ref().and_then(|k| k.kid.as_deref()).unwrap().rsplit('/').next().unwrap().to_owned();
    let options = KeyClientGetKeyAttestationOptions { key_version: Some(version), ..Default::default() };
    let attested = client.get_key_attestation("skr", Some(options)).await.unwrap().into_model().unwrap();
    assert!(attested.attributes.unwrap().attestation.is_none());
}
