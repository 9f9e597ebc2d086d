#include "tests/support/prometheus_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include "tests/support/daemon_process.h"

namespace ctd::testing {
namespace {

constexpr char kLogName[] = "prometheus.log";

// GET with HTTP/1.0 so that the reply is not chunked; nullopt on any failure.
std::optional<HttpReply> get(int port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    close(fd);
    return std::nullopt;
  }
  const std::string request = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  if (write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
    close(fd);
    return std::nullopt;
  }
  std::string response;
  char buffer[8192];
  for (ssize_t n; (n = read(fd, buffer, sizeof buffer)) > 0;) response.append(buffer, n);
  close(fd);
  const std::size_t header_end = response.find("\r\n\r\n");
  if (response.rfind("HTTP/1.", 0) != 0 || header_end == std::string::npos) return std::nullopt;
  return HttpReply{std::stoi(response.substr(9, 3)), response.substr(header_end + 4)};
}

}  // namespace

std::string url_encode(const std::string& value) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : value) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::optional<std::string> PrometheusServer::binary() {
  if (const char* env = std::getenv("CTD_PROMETHEUS"); env && *env) return std::string(env);
  if (std::filesystem::exists("/usr/bin/prometheus")) return std::string("/usr/bin/prometheus");
  return std::nullopt;
}

PrometheusServer::PrometheusServer(const std::map<std::string, std::string>& files)
    : dir_("ctd-prometheus") {
  const auto program = binary();
  if (!program) throw std::runtime_error("prometheus not found (Debian package prometheus)");
  for (const auto& [name, content] : files) dir_.write(name, content);
  port_ = free_port();
  const std::string config = dir_.path() + "/prometheus.yml";
  spawn({
      *program,
      "--config.file=" + config,
      "--storage.tsdb.path=" + dir_.path() + "/data",
      "--web.listen-address=127.0.0.1:" + std::to_string(port_),
      "--log.level=info",
  });
}

PrometheusServer::PrometheusServer(Alertmanager, const std::map<std::string, std::string>& files)
    : dir_("ctd-alertmanager") {
  const char* env = std::getenv("CTD_ALERTMANAGER");
  const std::string program = env && *env ? env : "/usr/bin/prometheus-alertmanager";
  if (!std::filesystem::exists(program))
    throw std::runtime_error(program + " not found (Debian package prometheus-alertmanager)");
  for (const auto& [name, content] : files) dir_.write(name, content);
  port_ = free_port();
  spawn({program, "--config.file=" + dir_.path() + "/alertmanager.yml",
         "--storage.path=" + dir_.path() + "/data",
         "--web.listen-address=127.0.0.1:" + std::to_string(port_),
         // No gossip: a single instance, and nothing listens beyond the loopback API.
         "--cluster.listen-address=", "--log.level=info"});
}

std::unique_ptr<PrometheusServer> PrometheusServer::alertmanager(
    const std::map<std::string, std::string>& files) {
  return std::unique_ptr<PrometheusServer>(new PrometheusServer(Alertmanager{}, files));
}

void PrometheusServer::spawn(const std::vector<std::string>& args) {
  const std::string log = dir_.path() + "/" + kLogName;
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    const int out = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(out, 1);
    dup2(out, 2);
    std::vector<char*> argv;
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
}

PrometheusServer::~PrometheusServer() {
  if (!running()) return;
  kill(pid_, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (running() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  if (running()) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

bool PrometheusServer::running() {
  if (exited_) return false;
  if (waitpid(pid_, nullptr, WNOHANG) == pid_) exited_ = true;
  return !exited_;
}

bool PrometheusServer::wait_ready(std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!running()) return false;
    const auto reply = get(port_, "/-/ready");
    if (reply && reply->status == 200) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

std::optional<nlohmann::json> PrometheusServer::get_json(const std::string& path_and_query) {
  const auto reply = get(port_, path_and_query);
  if (!reply || reply->status != 200) return std::nullopt;
  auto parsed = nlohmann::json::parse(reply->body, nullptr, false);
  if (parsed.is_discarded()) return std::nullopt;
  return parsed;
}

std::optional<nlohmann::json> PrometheusServer::query(const std::string& promql) {
  const auto body = get_json("/api/v1/query?query=" + url_encode(promql));
  if (!body || body->value("status", "") != "success") return std::nullopt;
  return (*body)["data"]["result"];
}

std::string PrometheusServer::log() const {
  std::ifstream in(dir_.path() + "/" + kLogName);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace ctd::testing
