// Throwaway certificates for TLS tests, made at test time with the `openssl` command line tool
// in a test's directory: CAs, and certificates they issue for servers (with their DNS names and
// IP addresses) or clients. EC P-256 keys, valid for two days. Nothing is shared between tests.
//
// Thread-safety: owned by one test. Header-only, so unit tests can use it without the support
// library.
#pragma once

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace ctd::testing {

struct KeyPair {
  std::string cert;  // PEM certificate file
  std::string key;   // PEM unencrypted key file
};

class TestPki {
 public:
  explicit TestPki(std::string dir) : dir_(std::move(dir)) {}

  // A self-signed CA named `name` ("<name>.crt", "<name>.key" in the directory).
  KeyPair ca(const std::string& name) {
    const KeyPair pair = paths(name);
    run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2"
        " -subj '/CN=" +
        name + "' -keyout " + pair.key + " -out " + pair.cert +
        " -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign");
    return pair;
  }

  // A server certificate issued by `ca` for the subjectAltName `san`
  // ("DNS:localhost,IP:127.0.0.1").
  KeyPair server(const std::string& name, const KeyPair& ca, const std::string& san) {
    return issue(name, ca, "subjectAltName=" + san + "\nextendedKeyUsage=serverAuth\n");
  }

  // A client certificate issued by `ca` (mutual TLS).
  KeyPair client(const std::string& name, const KeyPair& ca) {
    return issue(name, ca, "extendedKeyUsage=clientAuth\n");
  }

  // `pair`'s key encrypted with a passphrase (which ctd must refuse, never prompt for).
  std::string encrypted_key(const KeyPair& pair) {
    const std::string path = pair.key + ".encrypted";
    run("openssl pkey -in " + pair.key + " -aes256 -passout pass:secret -out " + path);
    return path;
  }

  const std::string& dir() const { return dir_; }

 private:
  KeyPair paths(const std::string& name) const {
    return {dir_ + "/" + name + ".crt", dir_ + "/" + name + ".key"};
  }

  KeyPair issue(const std::string& name, const KeyPair& ca, const std::string& extensions) {
    const KeyPair pair = paths(name);
    const std::string csr = dir_ + "/" + name + ".csr";
    const std::string ext = dir_ + "/" + name + ".ext";
    std::ofstream(ext) << "basicConstraints=CA:FALSE\n" << extensions;
    run("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj '/CN=" +
        name + "' -keyout " + pair.key + " -out " + csr);
    run("openssl x509 -req -in " + csr + " -CA " + ca.cert + " -CAkey " + ca.key +
        " -CAcreateserial -days 2 -extfile " + ext + " -out " + pair.cert);
    return pair;
  }

  void run(const std::string& command) const {
    const std::string log = dir_ + "/openssl.log";
    if (std::system((command + " >" + log + " 2>&1").c_str()) != 0) {
      std::ifstream in(log);
      std::stringstream output;
      output << in.rdbuf();
      throw std::runtime_error("openssl failed: " + command + "\n" + output.str());
    }
  }

  std::string dir_;
};

}  // namespace ctd::testing
