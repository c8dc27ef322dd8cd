//! The token endpoint: client secrets, certificate assertions and Entra's error answers.

use std::path::Path;
use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::common::*;

/// Asserts Entra's error JSON and returns its description.
pub(crate) async fn entra(
    response: Response,
    status: StatusCode,
    error: &str,
    code: u32,
) -> String {
    assert_eq!(response.status(), status, "expected AADSTS{code}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], error, "{body}");
    assert_eq!(body["error_codes"], json!([code]), "{body}");
    assert_eq!(
        body["error_uri"],
        format!("https://login.microsoftonline.com/error?code={code}")
    );
    let description = body["error_description"].as_str().unwrap();
    assert!(
        description.starts_with(&format!("AADSTS{code}: ")),
        "{description}"
    );
    for line in ["\r\nTrace ID: ", "\r\nCorrelation ID: ", "\r\nTimestamp: "] {
        assert!(description.contains(line), "{description}");
    }
    for field in ["timestamp", "trace_id", "correlation_id"] {
        assert!(body[field].is_string(), "{field} in {body}");
    }
    description.to_string()
}

fn secret_form<'a>(client_id: &'a str, secret: &'a str, scope: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("grant_type", "client_credentials"),
        ("client_id", client_id),
        ("client_secret", secret),
        ("scope", scope),
    ]
}

#[tokio::test]
async fn client_secret_gets_a_bearer_token() {
    let sandbox = sandbox(json!({"token_lifetime_s": 1800})).await;
    let api = Api::new(&sandbox);
    let response = api
        .token_response(CONTOSO, &secret_form(CLIENT_ID, SECRET, MANAGE))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 1800);
    assert_eq!(body["ext_expires_in"], 1800);
    let token = body["access_token"].as_str().unwrap();
    let list = api.feed(token, CONTOSO, "subscriptions/list", &[]).await;
    assert_eq!(list.status(), StatusCode::OK);
    // Entra also accepts a tenant's domain name in place of its id.
    let by_domain = api
        .token_response(
            "contoso.onmicrosoft.com",
            &secret_form(CLIENT_ID, SECRET, MANAGE),
        )
        .await;
    assert_eq!(by_domain.status(), StatusCode::OK);
    assert_eq!(api.stats().await["tokens_issued"], 2);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn token_requests_fail_like_entra() {
    let sandbox = sandbox(json!({})).await;
    let api = Api::new(&sandbox);
    let unknown = "00000000-1111-4222-8333-000000000000";
    let d = entra(
        api.token_response(unknown, &secret_form(CLIENT_ID, SECRET, MANAGE))
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
        90002,
    )
    .await;
    assert!(d.contains(&format!("Tenant '{unknown}' not found")), "{d}");

    let mut form = secret_form(CLIENT_ID, SECRET, MANAGE);
    form[0].1 = "password";
    entra(
        api.token_response(CONTOSO, &form).await,
        StatusCode::BAD_REQUEST,
        "unsupported_grant_type",
        70003,
    )
    .await;

    let stranger = "22222222-3333-4444-8555-666666666666";
    let d = entra(
        api.token_response(CONTOSO, &secret_form(stranger, SECRET, MANAGE))
            .await,
        StatusCode::BAD_REQUEST,
        "unauthorized_client",
        700016,
    )
    .await;
    assert!(d.contains(&format!(
        "Application with identifier '{stranger}' was not found in the directory 'Contoso'"
    )));

    entra(
        api.token_response(
            CONTOSO,
            &secret_form(
                CLIENT_ID,
                SECRET,
                "https://manage.office.com/ActivityFeed.Read",
            ),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_scope",
        70011,
    )
    .await;

    entra(
        api.token_response(CONTOSO, &secret_form(CLIENT_ID, "wrong", MANAGE))
            .await,
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        7000215,
    )
    .await;

    let no_credential = [
        ("grant_type", "client_credentials"),
        ("client_id", CLIENT_ID),
        ("scope", MANAGE),
    ];
    entra(
        api.token_response(CONTOSO, &no_credential).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
        7000218,
    )
    .await;

    // Revoked consent, then a rotated secret, changed while running.
    assert_eq!(
        api.update_tenant(CONTOSO, json!({"consented": false}))
            .await
            .status(),
        StatusCode::OK
    );
    entra(
        api.token_response(CONTOSO, &secret_form(CLIENT_ID, SECRET, MANAGE))
            .await,
        StatusCode::BAD_REQUEST,
        "unauthorized_client",
        700016,
    )
    .await;
    api.update_tenant(
        CONTOSO,
        json!({"consented": true, "client_secret": "rotated"}),
    )
    .await;
    entra(
        api.token_response(CONTOSO, &secret_form(CLIENT_ID, SECRET, MANAGE))
            .await,
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        7000215,
    )
    .await;
    let rotated = api
        .token_response(CONTOSO, &secret_form(CLIENT_ID, "rotated", MANAGE))
        .await;
    assert_eq!(rotated.status(), StatusCode::OK);
    sandbox.shutdown().await;
}

struct KeyPair {
    cert_pem: String,
    key_pem: Vec<u8>,
    x5t_s256: String,
    x5t: String,
}

fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl is installed");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// An RSA key and a self-signed certificate made by the openssl command-line tool.
fn key_pair(dir: &Path, name: &str) -> KeyPair {
    let (key, cert, der) = (
        format!("{name}.key"),
        format!("{name}.pem"),
        format!("{name}.der"),
    );
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &cert,
            "-days",
            "2",
            "-subj",
            "/CN=rulewatch-sandbox-test",
        ],
    );
    openssl(
        dir,
        &["x509", "-in", &cert, "-outform", "DER", "-out", &der],
    );
    KeyPair {
        cert_pem: std::fs::read_to_string(dir.join(&cert)).unwrap(),
        key_pem: std::fs::read(dir.join(&key)).unwrap(),
        x5t_s256: URL_SAFE_NO_PAD.encode(Sha256::digest(std::fs::read(dir.join(&der)).unwrap())),
        x5t: URL_SAFE_NO_PAD.encode(sha1::Sha1::digest(std::fs::read(dir.join(&der)).unwrap())),
    }
}

/// A client assertion signed with `signer`'s key, naming the certificate `x5t_s256`.
fn assertion(signer: &KeyPair, x5t_s256: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.x5t_s256 = Some(x5t_s256.to_string());
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_rsa_pem(&signer.key_pem).unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn certificate_assertions_are_verified() {
    let dir = tempfile::tempdir().unwrap();
    let registered = key_pair(dir.path(), "registered");
    let stranger = key_pair(dir.path(), "stranger");
    let mut tenants = tenants();
    tenants[0]["certificates"] = json!([registered.cert_pem]);
    let scenario =
        m365_sandbox::Scenario::from_json(&json!({"tenants": tenants}).to_string()).unwrap();
    let sandbox = m365_sandbox::start("127.0.0.1:0".parse().unwrap(), scenario)
        .await
        .unwrap();
    let api = Api::new(&sandbox);
    let now = chrono::Utc::now().timestamp();
    let audience = format!("{}/{CONTOSO}/oauth2/v2.0/token", api.base);
    let claims = |changes: Value| {
        let mut claims = json!({"aud": audience, "iss": CLIENT_ID, "sub": CLIENT_ID, "jti": "6a3e1c2b-0b5f-4f0e-9d8c-1b2a3c4d5e6f",
                                "nbf": now - 10, "exp": now + 600});
        for (k, v) in changes.as_object().unwrap() {
            if v.is_null() {
                claims.as_object_mut().unwrap().remove(k);
            } else {
                claims[k] = v.clone();
            }
        }
        claims
    };
    let send = |jwt: String| {
        let api = &api;
        async move {
            api.token_response(
                CONTOSO,
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", CLIENT_ID),
                    ("scope", GRAPH),
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ),
                    ("client_assertion", &jwt),
                ],
            )
            .await
        }
    };

    let ok = send(assertion(
        &registered,
        &registered.x5t_s256,
        &claims(json!({})),
    ))
    .await;
    assert_eq!(ok.status(), StatusCode::OK);
    let token = ok.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let domains = api
        .http
        .get(format!("{}/v1.0/domains", api.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(domains.status(), StatusCode::OK);

    // Signed by another key while claiming the registered certificate.
    let d = entra(
        send(assertion(
            &stranger,
            &registered.x5t_s256,
            &claims(json!({})),
        ))
        .await,
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        700027,
    )
    .await;
    assert!(d.contains("signature"), "{d}");
    // A certificate the app does not have.
    let d = entra(
        send(assertion(&stranger, &stranger.x5t_s256, &claims(json!({})))).await,
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        700027,
    )
    .await;
    assert!(d.contains(&stranger.x5t_s256), "{d}");
    entra(
        send(assertion(
            &registered,
            &registered.x5t_s256,
            &claims(json!({"aud": "https://login.microsoftonline.com/x/oauth2/v2.0/token"})),
        ))
        .await,
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        50013,
    )
    .await;
    entra(
        send(assertion(
            &registered,
            &registered.x5t_s256,
            &claims(json!({"exp": now - 900, "nbf": now - 1800})),
        ))
        .await,
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        700024,
    )
    .await;
    entra(
        send(assertion(
            &registered,
            &registered.x5t_s256,
            &claims(json!({"nbf": now + 900})),
        ))
        .await,
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        700024,
    )
    .await;
    // Within the five minutes of clock skew Entra allows.
    let skewed = send(assertion(
        &registered,
        &registered.x5t_s256,
        &claims(json!({"nbf": now + 120})),
    ))
    .await;
    assert_eq!(skewed.status(), StatusCode::OK);
    entra(
        send(assertion(
            &registered,
            &registered.x5t_s256,
            &claims(json!({"iss": "33333333-3333-4333-8333-333333333333"})),
        ))
        .await,
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        700021,
    )
    .await;
    entra(
        send(assertion(
            &registered,
            &registered.x5t_s256,
            &claims(json!({"jti": null})),
        ))
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
        50027,
    )
    .await;
    // Fabrikam has no certificate registered.
    let fabrikam = api
        .token_response(
            FABRIKAM,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", CLIENT_ID),
                ("scope", MANAGE),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                (
                    "client_assertion",
                    &assertion(
                        &registered,
                        &registered.x5t_s256,
                        &claims(
                            json!({"aud": format!("{}/{FABRIKAM}/oauth2/v2.0/token", api.base)}),
                        ),
                    ),
                ),
            ],
        )
        .await;
    entra(fabrikam, StatusCode::UNAUTHORIZED, "invalid_client", 700027).await;
    sandbox.shutdown().await;
}

/// An assertion signed with `alg` by `signer`, naming a certificate by either thumbprint.
fn signed(
    signer: &KeyPair,
    alg: Algorithm,
    x5t_s256: Option<&str>,
    x5t: Option<&str>,
    aud: &str,
) -> String {
    let mut header = Header::new(alg);
    header.x5t_s256 = x5t_s256.map(str::to_string);
    header.x5t = x5t.map(str::to_string);
    let now = chrono::Utc::now().timestamp();
    let claims = json!({"aud": aud, "iss": CLIENT_ID, "sub": CLIENT_ID, "jti": uuid::Uuid::new_v4().to_string(), "nbf": now - 10, "exp": now + 600});
    jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_rsa_pem(&signer.key_pem).unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn ps256_and_rs256_assertions_are_accepted_by_either_thumbprint() {
    let dir = tempfile::tempdir().unwrap();
    let registered = key_pair(dir.path(), "registered");
    let stranger = key_pair(dir.path(), "stranger");
    let mut tenants = tenants();
    tenants[0]["certificates"] = json!([registered.cert_pem]);
    let sandbox = sandbox_with(tenants, json!({})).await;
    let api = Api::new(&sandbox);
    let aud = format!("{}/{CONTOSO}/oauth2/v2.0/token", api.base);
    let send = |jwt: String| {
        let api = &api;
        async move {
            api.token_response(
                CONTOSO,
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", CLIENT_ID),
                    ("scope", MANAGE),
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ),
                    ("client_assertion", &jwt),
                ],
            )
            .await
        }
    };
    let r = &registered;
    // The current form (PS256 with x5t#S256), the older one (RS256 with x5t), and mixes.
    for (alg, s256, sha1) in [
        (Algorithm::PS256, Some(r.x5t_s256.as_str()), None),
        (Algorithm::RS256, None, Some(r.x5t.as_str())),
        (Algorithm::PS256, None, Some(r.x5t.as_str())),
        (
            Algorithm::RS256,
            Some(r.x5t_s256.as_str()),
            Some(r.x5t.as_str()),
        ),
    ] {
        let response = send(signed(r, alg, s256, sha1, &aud)).await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{alg:?} x5t#S256={s256:?} x5t={sha1:?}: {}",
            response.text().await.unwrap()
        );
    }
    // An x5t naming another certificate, even beside the right x5t#S256.
    for (s256, sha1) in [
        (None, Some(stranger.x5t.as_str())),
        (Some(r.x5t_s256.as_str()), Some(stranger.x5t.as_str())),
        (None, None),
    ] {
        entra(
            send(signed(r, Algorithm::PS256, s256, sha1, &aud)).await,
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            700027,
        )
        .await;
    }
    // PS256 signed by another key while naming the registered certificate.
    let d = entra(
        send(signed(
            &stranger,
            Algorithm::PS256,
            Some(&r.x5t_s256),
            None,
            &aud,
        ))
        .await,
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        700027,
    )
    .await;
    assert!(d.contains("signature"), "{d}");
    // Another algorithm is refused whatever it names.
    let mut header = Header::new(Algorithm::HS256);
    header.x5t_s256 = Some(r.x5t_s256.clone());
    let hs = jsonwebtoken::encode(
        &header,
        &json!({"aud": aud, "iss": CLIENT_ID, "sub": CLIENT_ID, "jti": "x", "exp": chrono::Utc::now().timestamp() + 600}),
        &EncodingKey::from_secret(b"guessable"),
    )
    .unwrap();
    entra(
        send(hs).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
        50027,
    )
    .await;
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_bad_certificate_in_the_scenario_is_named() {
    let mut tenants = tenants();
    tenants[1]["certificates"] =
        json!(["-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n"]);
    let err =
        m365_sandbox::Scenario::from_json(&json!({"tenants": tenants}).to_string()).unwrap_err();
    assert!(
        err.to_string().contains("tenants[1].certificates[0]"),
        "{err}"
    );
}

#[tokio::test]
async fn token_refusals_answer_like_entra() {
    // (refusal, code, error, whether a Graph token is refused too)
    let cases = [
        (
            "service_principal_disabled",
            500014,
            "invalid_request",
            false,
        ),
        ("resource_not_found", 500011, "invalid_resource", false),
        ("application_disabled", 7000112, "unauthorized_client", true),
    ];
    for (refusal, code, error, graph_too) in cases {
        let mut tenants = tenants();
        tenants[0]["token_refusal"] = json!(refusal);
        let sandbox = sandbox_with(tenants, json!({})).await;
        let api = Api::new(&sandbox);
        let d = entra(
            api.token_response(CONTOSO, &secret_form(CLIENT_ID, SECRET, MANAGE))
                .await,
            StatusCode::BAD_REQUEST,
            error,
            code,
        )
        .await;
        assert!(
            d.contains("https://manage.office.com") || d.contains(CLIENT_ID),
            "{d}"
        );
        let graph = api
            .token_response(CONTOSO, &secret_form(CLIENT_ID, SECRET, GRAPH))
            .await;
        assert_eq!(graph.status() != StatusCode::OK, graph_too, "{refusal}");
        // The credential is checked first, and other tenants are untouched.
        entra(
            api.token_response(CONTOSO, &secret_form(CLIENT_ID, "wrong", MANAGE))
                .await,
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000215,
        )
        .await;
        api.token(FABRIKAM, MANAGE).await;
        sandbox.shutdown().await;
    }
}
