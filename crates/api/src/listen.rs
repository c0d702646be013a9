//! Where the service listens: a unix socket, or TCP with TLS (dockerd's `--tlsverify`: the
//! client must show a certificate signed by the given CA), or plain TCP when asked for. TLS
//! is OpenSSL's, already linked for the registry client, so the API adds no second crypto
//! library to the binary.

use openssl::ssl::{Ssl, SslAcceptor, SslFiletype, SslMethod, SslVerifyMode};
use openssl::x509::X509Name;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};

/// The service's listening socket.
pub enum Listener {
    Unix(std::os::unix::net::UnixListener),
    Tcp {
        listener: std::net::TcpListener,
        /// None: plain TCP, which the caller chose explicitly.
        tls: Option<Tls>,
    },
}

/// The PEM files of a TLS listener: the service's certificate chain and key, and the CA
/// that client certificates must chain to (none: any client may connect).
#[derive(Debug, PartialEq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_ca: Option<PathBuf>,
}

/// A TLS server context, loaded once.
pub struct Tls(SslAcceptor);

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {what} ({reason})")]
    File {
        path: String,
        what: &'static str,
        reason: String,
    },
    #[error("TLS set-up: {0}")]
    Setup(#[from] openssl::error::ErrorStack),
}

impl Tls {
    pub fn load(files: &TlsFiles) -> Result<Tls, TlsError> {
        fn file(
            path: &Path,
            what: &'static str,
        ) -> impl FnOnce(openssl::error::ErrorStack) -> TlsError {
            let path = path.display().to_string();
            move |e| TlsError::File {
                path,
                what,
                reason: reasons(&e),
            }
        }
        // Mozilla's "intermediate" profile: TLS 1.2 and 1.3, forward-secret ciphers only.
        let mut b = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server())?;
        b.set_certificate_chain_file(&files.cert)
            .map_err(file(&files.cert, "not a PEM certificate chain"))?;
        b.set_private_key_file(&files.key, SslFiletype::PEM)
            .map_err(file(&files.key, "not a PEM private key"))?;
        b.check_private_key()
            .map_err(file(&files.key, "not the key of the certificate"))?;
        if let Some(ca) = &files.client_ca {
            b.set_ca_file(ca)
                .map_err(file(ca, "not a PEM CA certificate"))?;
            // Tells the client which CA to pick a certificate for.
            b.set_client_ca_list(
                X509Name::load_client_ca_file(ca).map_err(file(ca, "not a PEM CA certificate"))?,
            );
            b.set_verify(SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT);
        }
        Ok(Tls(b.build()))
    }

    /// The server side of a handshake on `stream`, within `limit`: a client that does not
    /// finish it in time (or has no valid certificate) is dropped.
    pub(crate) async fn accept<S>(
        &self,
        stream: S,
        limit: Duration,
    ) -> std::io::Result<tokio_openssl::SslStream<S>>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let ssl = Ssl::new(self.0.context()).map_err(std::io::Error::other)?;
        let mut tls = tokio_openssl::SslStream::new(ssl, stream).map_err(std::io::Error::other)?;
        match tokio::time::timeout(limit, Pin::new(&mut tls).accept()).await {
            Ok(Ok(())) => Ok(tls),
            Ok(Err(e)) => Err(std::io::Error::other(e)),
            Err(_) => Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "TLS handshake timed out",
            )),
        }
    }
}

/// OpenSSL's reasons alone ("no start line"), without its library and source locations.
fn reasons(e: &openssl::error::ErrorStack) -> String {
    let all: Vec<&str> = e.errors().iter().filter_map(|e| e.reason()).collect();
    match all.is_empty() {
        true => e.to_string(),
        false => all.join(": "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let files = TlsFiles {
            cert: dir.path().join("cert.pem"),
            key: dir.path().join("key.pem"),
            client_ca: None,
        };
        let Err(e) = Tls::load(&files) else {
            panic!("loaded a missing certificate")
        };
        let e = e.to_string();
        assert!(
            e.starts_with(&format!(
                "{}: not a PEM certificate chain",
                files.cert.display()
            )),
            "{e}"
        );
    }
}
