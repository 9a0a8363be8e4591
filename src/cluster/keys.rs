//! The SSH key pair each cluster gets at create, the same for every provider: ed25519,
//! generated here so that the private key never depends on a cloud's key service.

use rand_core::OsRng;
use secrecy::{ExposeSecret, SecretString};
use ssh_key::{Algorithm, LineEnding, PrivateKey};

#[derive(Clone)]
pub struct KeyPair {
    /// `ssh_key_name`: the name the key is registered under on the cloud.
    pub name: String,
    /// `ssh_public_key`, in OpenSSH's one-line form.
    pub public_key: String,
    /// `ssh_private_key`, in OpenSSH's PEM form. Shown only to the cluster's owner.
    pub private_key: SecretString,
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPair")
            .field("name", &self.name)
            .field("public_key", &self.public_key)
            .field("private_key", &"[REDACTED]")
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("generating the cluster's SSH key: {0}")]
pub struct KeyError(#[from] ssh_key::Error);

impl KeyPair {
    pub fn generate(name: &str) -> Result<KeyPair, KeyError> {
        let mut private = PrivateKey::random(&mut OsRng, Algorithm::Ed25519)?;
        private.set_comment(name);
        let public_key = private.public_key().to_openssh()?;
        let private_key = private.to_openssh(LineEnding::LF)?;
        Ok(KeyPair {
            name: name.to_string(),
            public_key,
            private_key: SecretString::from(private_key.as_str()),
        })
    }

    /// The private key text, for the one place that shows it to its owner.
    pub fn expose_private_key(&self) -> &str {
        self.private_key.expose_secret()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_pair_is_openssh_ed25519_and_debug_hides_the_private_half() {
        let pair = KeyPair::generate("disco-1234abcd").expect("generate");
        assert!(pair.public_key.starts_with("ssh-ed25519 "));
        assert!(pair.public_key.ends_with(" disco-1234abcd"));
        assert!(
            pair.expose_private_key()
                .starts_with("-----BEGIN OPENSSH PRIVATE KEY-----")
        );
        let parsed = PrivateKey::from_openssh(pair.expose_private_key()).expect("parses");
        assert_eq!(
            parsed.public_key().to_openssh().expect("public"),
            pair.public_key
        );
        let debug = format!("{pair:?}");
        assert!(!debug.contains("PRIVATE KEY"), "{debug}");
    }
}
