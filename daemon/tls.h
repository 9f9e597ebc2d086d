// TLS for ctd's HTTP server (http.tls) and its outgoing HTTPS calls (alerts, `ctd ctl`): the
// OpenSSL contexts behind Boost.Asio's ssl::context, built from PEM files.
//
// Server contexts: TLS 1.2 at least, OpenSSL's default cipher suites (so the system's
// openssl.cnf policy applies), no compression, no renegotiation; the certificate chain and the
// key, checked against each other; with a client CA file, every client must present a
// certificate one of its CAs issued (mutual TLS). Client contexts: TLS 1.2 at least, the peer's
// certificate always verified, against the system's store or only the CAs of a given file, and
// its name checked per connection (expect_host). Nothing here ever turns verification off.
//
// Every failure is a TlsError whose message names the file (and, for the server, the
// configuration key): "http.tls.key_file /etc/ctd/tls.key: cannot read: Permission denied".
// An encrypted private key is refused, never prompted for.
//
// Ownership: contexts are shared: HttpServer holds the current one, each connection the one it
// was accepted with, so replacing it (SIGHUP) never disturbs open connections. Thread-safety:
// the functions are reentrant; a context is not changed after it is built.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>

#include "config/options.h"

namespace boost::asio::ssl {
class context;
}
struct ssl_st;  // OpenSSL's SSL

namespace ctd::tls {

class TlsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The HTTP server's context from `http.tls`. Throws TlsError.
std::shared_ptr<boost::asio::ssl::context> server_context(const config::TlsOptions& options);

// How an HTTPS client verifies the server and, optionally, proves who it is.
struct ClientTls {
  std::string ca_file;    // PEM CAs to trust instead of the system's store; "" = the system's
  std::string cert_file;  // PEM client certificate (chain) for mutual TLS; "" = none
  std::string key_file;   // its unencrypted PEM key; required with cert_file
};

// A client context for `options`. Throws TlsError.
std::shared_ptr<boost::asio::ssl::context> client_context(const ClientTls& options);

// Before a client handshake: SNI (for a DNS name) and the name the server's certificate must
// carry, a DNS name (wildcards only as a whole left-most label) or an IP address. Throws
// TlsError when OpenSSL refuses the name.
void expect_host(ssl_st* ssl, const std::string& host);

// After a failed handshake: why the peer's certificate was refused, in OpenSSL's words
// ("hostname mismatch", "unable to get local issuer certificate"), or "" if it was not.
std::string verification_failure(const ssl_st* ssl);

// The certificate a context presents, for the log.
struct CertificateSummary {
  std::string subject;  // RFC 2253, "CN=ctd.example.com"
  std::string issuer;
  std::string not_after;  // "2027-01-31 12:00:00 UTC"
  bool expired = false;

  // "CN=ctd.example.com, issued by CN=Example CA, valid until 2027-01-31 12:00:00 UTC".
  std::string to_string() const;
};
CertificateSummary summarize_certificate(const boost::asio::ssl::context& context);

}  // namespace ctd::tls
