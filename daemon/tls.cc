#include "daemon/tls.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <fmt/format.h>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/context.hpp>

namespace ctd::tls {
namespace {

namespace ssl = boost::asio::ssl;

// Certificates, chains and CA bundles are small; a larger file is not one (and is not read).
constexpr std::uintmax_t kMaxPemBytes = 4 * 1024 * 1024;
constexpr unsigned char kSessionIdContext[] = "ctd";

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Free {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct KeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};

// OpenSSL's passphrase callback: none, so an encrypted key fails instead of prompting.
int no_passphrase(char*, int, int, void*) { return 0; }

// A PEM file named `what` (a configuration key or "CA file"), read whole, or why not.
std::string read_pem(const std::string& what, const std::string& path) {
  const std::string where = fmt::format("{} {}", what, path);
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) throw TlsError(where + ": is a directory");
  const std::uintmax_t size = std::filesystem::file_size(path, error);
  if (!error && size > kMaxPemBytes) {
    throw TlsError(fmt::format("{}: {} bytes is too large for a PEM file", where, size));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw TlsError(fmt::format("{}: cannot read: {}", where, std::strerror(errno)));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw TlsError(fmt::format("{}: cannot read: {}", where, std::strerror(errno)));
  if (text.empty()) throw TlsError(where + ": is empty");
  return text;
}

// OpenSSL's newest error in words (and the queue cleared), for a message.
std::string openssl_error() {
  const unsigned long code = ERR_peek_last_error();
  ERR_clear_error();
  if (code == 0) return "unknown OpenSSL error";
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  return text;
}

void set_common_options(ssl::context& context) {
  SSL_CTX* native = context.native_handle();
  if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1) {
    throw TlsError("cannot require TLS 1.2: " + openssl_error());
  }
  SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  // Nothing may make OpenSSL prompt on the terminal for a passphrase.
  SSL_CTX_set_default_passwd_cb(native, no_passphrase);
}

void use_certificate_and_key(ssl::context& context, const std::string& cert_what,
                             const std::string& cert_file, const std::string& key_what,
                             const std::string& key_file) {
  const std::string chain = read_pem(cert_what, cert_file);
  boost::system::error_code error;
  context.use_certificate_chain(boost::asio::buffer(chain), error);
  if (error) {
    ERR_clear_error();
    throw TlsError(fmt::format("{} {}: not a PEM certificate chain ({})", cert_what, cert_file,
                               error.message()));
  }
  const std::string key = read_pem(key_what, key_file);
  if (key.find("-----BEGIN ENCRYPTED PRIVATE KEY-----") != std::string::npos ||
      key.find("Proc-Type: 4,ENCRYPTED") != std::string::npos) {
    throw TlsError(
        fmt::format("{} {}: the private key is encrypted; ctd needs it unencrypted "
                    "(protect the file with its mode instead)",
                    key_what, key_file));
  }
  // Parsed first, so that a key of another certificate (which installing it also refuses) is
  // told apart from a file that holds no key.
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(key.data(), static_cast<int>(key.size())));
  std::unique_ptr<EVP_PKEY, KeyFree> parsed(
      bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr) : nullptr);
  if (!parsed) {
    throw TlsError(
        fmt::format("{} {}: not a PEM private key ({})", key_what, key_file, openssl_error()));
  }
  SSL_CTX* native = context.native_handle();
  if (SSL_CTX_use_PrivateKey(native, parsed.get()) != 1 || SSL_CTX_check_private_key(native) != 1) {
    ERR_clear_error();
    throw TlsError(fmt::format("{} {} does not match the certificate in {} {}", key_what, key_file,
                               cert_what, cert_file));
  }
}

// Trusts the certificates of a PEM file (only those); with `as_client_cas` they are also the
// CAs a server names when it asks for a client certificate.
void trust_cas(ssl::context& context, const std::string& what, const std::string& path,
               bool as_client_cas) {
  const std::string text = read_pem(what, path);
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  if (!bio) throw TlsError(fmt::format("{} {}: out of memory", what, path));
  SSL_CTX* native = context.native_handle();
  X509_STORE* store = SSL_CTX_get_cert_store(native);
  int count = 0;
  while (std::unique_ptr<X509, X509Free> cert{
      PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)}) {
    if (X509_STORE_add_cert(store, cert.get()) != 1 ||
        (as_client_cas && SSL_CTX_add_client_CA(native, cert.get()) != 1)) {
      throw TlsError(
          fmt::format("{} {}: certificate {}: {}", what, path, count + 1, openssl_error()));
    }
    ++count;
  }
  ERR_clear_error();  // the end of the file reads as "no start line"
  if (count == 0) throw TlsError(fmt::format("{} {}: no PEM certificate in it", what, path));
}

std::string name_text(const X509_NAME* name) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  if (!bio || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) < 0) return "?";
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

std::string time_text(const ASN1_TIME* time) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(time, &tm) != 1) return "?";
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return text;
}

}  // namespace

std::shared_ptr<ssl::context> server_context(const config::TlsOptions& options) {
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  set_common_options(*context);
  SSL_CTX* native = context->native_handle();
  SSL_CTX_set_options(native, SSL_OP_CIPHER_SERVER_PREFERENCE);
  use_certificate_and_key(*context, "http.tls.cert_file", options.cert_file, "http.tls.key_file",
                          options.key_file);
  if (options.client_ca_file) {
    trust_cas(*context, "http.tls.client_ca_file", *options.client_ca_file, true);
    context->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
    // Session resumption with client certificates needs a context id.
    SSL_CTX_set_session_id_context(native, kSessionIdContext, sizeof kSessionIdContext - 1);
  }
  return context;
}

std::shared_ptr<ssl::context> client_context(const ClientTls& options) {
  auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
  set_common_options(*context);
  if (options.ca_file.empty()) {
    boost::system::error_code error;
    context->set_default_verify_paths(error);
    if (error) throw TlsError("cannot load the system's CA certificates: " + error.message());
  } else {
    trust_cas(*context, "CA file", options.ca_file, false);
  }
  context->set_verify_mode(ssl::verify_peer);
  if (!options.cert_file.empty() || !options.key_file.empty()) {
    if (options.cert_file.empty() || options.key_file.empty()) {
      throw TlsError("a client certificate needs both its certificate and its key file");
    }
    use_certificate_and_key(*context, "client certificate", options.cert_file, "client key",
                            options.key_file);
  }
  return context;
}

void expect_host(ssl_st* ssl, const std::string& host) {
  boost::system::error_code not_an_address;
  boost::asio::ip::make_address(host, not_an_address);
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  if (!not_an_address) {
    if (X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) != 1) {
      throw TlsError("cannot expect the IP address " + host + ": " + openssl_error());
    }
    return;
  }
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  if (SSL_set_tlsext_host_name(ssl, host.c_str()) != 1 || SSL_set1_host(ssl, host.c_str()) != 1) {
    throw TlsError("cannot expect the host name " + host + ": " + openssl_error());
  }
}

std::string verification_failure(const ssl_st* ssl) {
  const long result = SSL_get_verify_result(ssl);
  return result == X509_V_OK ? "" : X509_verify_cert_error_string(result);
}

std::string CertificateSummary::to_string() const {
  return fmt::format("{}, issued by {}, valid until {}{}", subject, issuer, not_after,
                     expired ? " (EXPIRED)" : "");
}

CertificateSummary summarize_certificate(const ssl::context& context) {
  CertificateSummary summary;
  // OpenSSL's getter is not const-qualified; it does not change the context.
  X509* cert = SSL_CTX_get0_certificate(const_cast<ssl::context&>(context).native_handle());
  if (cert == nullptr) return summary;
  summary.subject = name_text(X509_get_subject_name(cert));
  summary.issuer = name_text(X509_get_issuer_name(cert));
  summary.not_after = time_text(X509_get0_notAfter(cert));
  summary.expired = X509_cmp_current_time(X509_get0_notAfter(cert)) < 0;
  return summary;
}

}  // namespace ctd::tls
